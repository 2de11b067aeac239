"""Per-model settings: manifest config beats environment beats defaults; bad values fail with the model's name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gemini_batch.settings import DEFAULT_GEMINI_MODEL, MAX_REQUESTS_PER_JOB, SettingsError, settings_for

REPO = Path(__file__).resolve().parents[2]


def test_defaults_without_config_or_environment() -> None:
    s = settings_for("m", {}, env={})
    assert s.gemini_model == DEFAULT_GEMINI_MODEL
    assert s.max_requests_per_job == MAX_REQUESTS_PER_JOB == 200_000
    assert s.vertex_endpoint is None and s.vertex_location is None
    assert s.model_resource == f"publishers/google/models/{DEFAULT_GEMINI_MODEL}"


def test_config_overrides_environment_and_floats_from_the_manifest_become_ints() -> None:
    env = {"GEMINI_BATCH_VERTEX_LOCATION": "europe-west4", "GEMINI_BATCH_VERTEX_ENDPOINT": "http://127.0.0.1:1"}
    s = settings_for("m", {"vertex_location": "us-east1", "max_attempts": 5.0, "keep_job_tables": "true"}, env=env)
    assert s.vertex_location == "us-east1"
    assert s.vertex_endpoint == "http://127.0.0.1:1"
    assert s.max_attempts == 5 and isinstance(s.max_attempts, int)
    assert s.keep_job_tables is True


def test_poll_cadence_from_environment() -> None:
    s = settings_for("m", {}, env={"GEMINI_BATCH_POLL_INITIAL_SECONDS": "0.5", "GEMINI_BATCH_POLL_MAX_SECONDS": "2"})
    assert (s.poll_initial_seconds, s.poll_max_seconds) == (0.5, 2.0)


def test_tuned_and_full_resource_models_are_passed_through() -> None:
    tuned = "projects/p/locations/us-central1/models/123"
    assert settings_for("m", {"gemini_model": tuned}, env={}).model_resource == tuned


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"max_requests_per_job": 200_001}, "max_requests_per_job=200001"),
        ({"max_requests_per_job": 0}, "between 1 and 200000"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": "lots"}, "invalid gemini_batch config"),
        ({"keep_job_tables": "perhaps"}, "expected true or false"),
    ],
)
def test_invalid_configs_name_the_model(config: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)) as err:
        settings_for("review_insights", config, env={})
    assert "review_insights" in str(err.value)


def test_default_model_matches_the_materialization() -> None:
    """request_hash includes the Gemini model: dbt and the hook must agree on the default."""
    macro = (REPO / "macros/materializations/gemini_batch/_relations.sql").read_text()
    assert f"model_config.get('gemini_model', '{DEFAULT_GEMINI_MODEL}')" in macro


def test_a_local_bigquery_target_without_a_vertex_endpoint_is_refused() -> None:
    from types import SimpleNamespace

    from gemini_batch.clients import LocalEndpointError, job_service_client

    credentials = SimpleNamespace(api_endpoint="http://127.0.0.1:9050")
    with pytest.raises(LocalEndpointError, match="GEMINI_BATCH_VERTEX_ENDPOINT is not set"):
        job_service_client(credentials, settings_for("m", {}, env={}), "us-central1")
