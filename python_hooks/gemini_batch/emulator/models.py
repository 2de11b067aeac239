"""Which model a batch job may name: a Gemini publisher model batch serves, or a registered tuned model.

The publisher models are data (models.json beside this file) that users extend without editing the package: the
`extra_publisher_models` setting, $GEMINI_BATCH_EMULATOR_EXTRA_MODELS (comma-separated) or `--extra-model`. Tuned
models exist only when registered (`tuned_models` setting, `--tuned-model`): a tuned model is a resource of one project
and one location, so one that is not registered there does not exist, as on Vertex.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from gemini_batch.emulator.errors import ApiError, invalid_argument

MODELS_FILE = Path(__file__).with_name("models.json")
EXTRA_MODELS_ENV = "GEMINI_BATCH_EMULATOR_EXTRA_MODELS"

_PUBLISHER = re.compile(
    r"^(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"publishers/(?P<publisher>[^/]+)/models/(?P<id>[^/@]+)(?:@(?P<version>[^/]+))?$"
)
_TUNED = re.compile(
    r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/models/(?P<id>[^/@]+)(?:@(?P<version>[^/]+))?$"
)
_MODEL_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


@lru_cache(maxsize=1)
def builtin_publisher_models() -> frozenset[str]:
    data = json.loads(MODELS_FILE.read_text())
    return frozenset(str(name) for name in data["publisher_models"])


def publisher_models(extra: Iterable[str] = ()) -> frozenset[str]:
    return builtin_publisher_models() | frozenset(extra)


def check_model_ids(names: Iterable[str], what: str) -> list[str]:
    """Problems with user-given publisher model ids (for the config's own validation)."""
    return [f"{what}: {name!r} is not a model id like gemini-2.5-flash" for name in names if not _MODEL_ID.match(name)]


def check_tuned_names(names: Iterable[str]) -> list[str]:
    return [
        f"tuned_models: {name!r} is not projects/P/locations/L/models/ID"
        for name in names
        if not (_TUNED.match(name) and "@" not in name)
    ]


def resolve_model(
    model: str,
    projects: set[str],
    location: str,
    extra_publisher_models: Iterable[str] = (),
    tuned_models: Iterable[str] = (),
) -> str:
    """The id of the model a create names (publisher model id or tuned model id); ApiError as Vertex answers."""
    if not model:
        raise invalid_argument("Field `model` is required: e.g. publishers/google/models/gemini-2.5-flash.")
    publisher = _PUBLISHER.match(model)
    tuned = None if publisher else _TUNED.match(model)
    match = publisher or tuned
    if match is None or (publisher is not None and publisher["publisher"] != "google"):
        raise invalid_argument(
            f"Invalid model name {model!r}: use publishers/google/models/gemini-..., "
            "projects/P/locations/L/publishers/google/models/gemini-... or projects/P/locations/L/models/ID."
        )
    project, model_location = match["project"], match["location"]
    if project is not None and project not in projects:
        raise invalid_argument(f"Model {model} is not in project {sorted(projects)[0]}.")
    if model_location is not None and model_location != location:
        raise invalid_argument(f"Model {model} is in location {model_location}, the job in {location}.")
    if publisher is not None:
        name, version = publisher["id"], publisher["version"]
        # Vertex refuses a publisher model that batch does not serve at create, with 400 INVALID_ARGUMENT and this
        # exact text (googleapis/python-genai#704 for gemini-2.5-flash-preview-04-17, google-gemini/cookbook#949 for
        # gemini-2.5-flash-image-preview, both on POST .../batchPredictionJobs). What Vertex says for a name that is
        # no model at all (e.g. gemini-9-ultra) was not found in Google's reference; online prediction answers 404
        # "Publisher Model `...` was not found", but batch checks support first, so the same 400 is assumed here.
        if name not in publisher_models(extra_publisher_models) or version not in (None, "default"):
            raise invalid_argument(f"Do not support publisher model {name}" + (f"@{version}" if version else ""))
        return str(name) + (f"@{version}" if version else "")
    assert tuned is not None
    registered = {_tuned_key(name, projects) for name in tuned_models}
    if (tuned["location"], tuned["id"]) not in registered:
        elsewhere = sorted(loc for loc, model_id in registered if model_id == tuned["id"])
        hint = f" (a model with this id is registered in {', '.join(elsewhere)})" if elsewhere else ""
        # Vertex's answer for a missing Model resource (GET .../models/ID): 404 "The Model does not exist."
        raise ApiError("NOT_FOUND", f"The Model does not exist: {model}{hint}.")
    return str(tuned["id"])


def _tuned_key(name: str, projects: set[str]) -> tuple[str, str]:
    match = _TUNED.match(name)
    if match is None or match["project"] not in projects:
        return ("", "")
    return (match["location"], match["id"])
