"""The model registry: which publisher and tuned models a batch job may name, and Vertex's answer for the others."""

from __future__ import annotations

import json

import pytest

from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.errors import ApiError
from gemini_batch.emulator.models import EXTRA_MODELS_ENV, MODELS_FILE, builtin_publisher_models, resolve_model

PROJECTS = {"local-project", "123456789012"}
TUNED = "projects/123456789012/locations/us-central1/models/4567"


def resolve(model: str, location: str = "us-central1", **kwargs: list[str]) -> str:
    return resolve_model(model, PROJECTS, location, **kwargs)


def test_registry_file_lists_2x_and_3x_models() -> None:
    names = builtin_publisher_models()
    assert names == set(json.loads(MODELS_FILE.read_text())["publisher_models"])
    assert {"gemini-2.0-flash-001", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"} <= names
    assert any(name.startswith("gemini-3") for name in names)


@pytest.mark.parametrize(
    ("model", "model_id"),
    [
        ("publishers/google/models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("publishers/google/models/gemini-2.0-flash-001@default", "gemini-2.0-flash-001@default"),
        ("projects/local-project/locations/us-central1/publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
    ],
)
def test_served_publisher_models_are_accepted(model: str, model_id: str) -> None:
    assert resolve(model) == model_id


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("publishers/google/models/gemini-9-ultra", "Do not support publisher model gemini-9-ultra"),
        ("publishers/google/models/gemini-2.5-flash@002", "Do not support publisher model gemini-2.5-flash@002"),
        ("publishers/google/models/text-bison", "Do not support publisher model text-bison"),
        ("publishers/meta/models/llama-3", "Invalid model name"),
        ("gemini-2.5-flash", "Invalid model name"),
        ("projects/local-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash", "location"),
        (TUNED.replace("us-central1", "europe-west4"), "location"),
    ],
)
def test_other_models_are_invalid_argument(model: str, message: str) -> None:
    with pytest.raises(ApiError) as err:
        resolve(model, tuned_models=[TUNED])
    assert err.value.status == "INVALID_ARGUMENT"
    assert message in err.value.message


def test_extra_publisher_models_extend_the_registry() -> None:
    with pytest.raises(ApiError):
        resolve("publishers/google/models/gemini-4-flash")
    assert resolve("publishers/google/models/gemini-4-flash", extra_publisher_models=["gemini-4-flash"])
    config = EmulatorConfig.from_env({EXTRA_MODELS_ENV: "gemini-4-flash, gemini-4-pro"})
    assert config.extra_publisher_models == ["gemini-4-flash", "gemini-4-pro"]


def test_tuned_models_exist_only_where_registered() -> None:
    assert resolve(TUNED, tuned_models=[TUNED]) == "4567"
    by_id = TUNED.replace("123456789012", "local-project")
    assert resolve(by_id, tuned_models=[TUNED]) == "4567", "project id and number are aliases"
    with pytest.raises(ApiError) as err:
        resolve(TUNED)
    assert err.value.status == "NOT_FOUND"
    with pytest.raises(ApiError) as err:
        resolve(TUNED, tuned_models=[TUNED.replace("us-central1", "europe-west4")])
    assert err.value.status == "NOT_FOUND" and "registered in europe-west4" in err.value.message


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"tuned_models": ["publishers/google/models/gemini-2.5-flash"]}, "tuned_models"),
        ({"tuned_models": "projects/p/locations/l/models/1"}, "JSON list"),
        ({"extra_publisher_models": ["Gemini 4"]}, "extra_publisher_models"),
        ({"output_table_format": "table"}, "output_table_format"),
        ({"waiting_state": "RUNNING"}, "waiting_state"),
        ({"max_queue_seconds": 0}, "max_queue_seconds"),
    ],
)
def test_registry_and_queue_settings_are_validated(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatorConfig().merged(patch)
