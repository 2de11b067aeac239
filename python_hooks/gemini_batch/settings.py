"""Per-model settings of the hook: read from the dbt node's config (manifest), then environment, then defaults.

Model configs are the single place a project sets them (`config(gemini_model=...)` in the model, or `+gemini_model:`
under `models:` in dbt_project.yml), because both dbt (the materialization) and this hook (from the manifest) see them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Must match the default in macros/materializations/gemini_batch/_relations.sql (_gemini_model): it is part of
# request_hash. tests/unit/test_settings.py checks that the two agree.
DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
MAX_REQUESTS_PER_JOB = 200_000  # Vertex's limit for one batch job

ENV_VERTEX_PROJECT = "GEMINI_BATCH_VERTEX_PROJECT"
ENV_VERTEX_LOCATION = "GEMINI_BATCH_VERTEX_LOCATION"
ENV_VERTEX_ENDPOINT = "GEMINI_BATCH_VERTEX_ENDPOINT"
# Polling cadence; the local stack sets short ones (its jobs take seconds, Vertex's take minutes to hours).
ENV_POLL_INITIAL_SECONDS = "GEMINI_BATCH_POLL_INITIAL_SECONDS"
ENV_POLL_MAX_SECONDS = "GEMINI_BATCH_POLL_MAX_SECONDS"


class SettingsError(ValueError):
    """A model config that cannot work; the message names the model and the config key."""


@dataclass(frozen=True)
class BatchSettings:
    gemini_model: str = DEFAULT_GEMINI_MODEL
    vertex_project: str | None = None  # default: the model's BigQuery project
    vertex_location: str | None = None  # default: the target's location
    vertex_endpoint: str | None = None  # default: Google's regional endpoint
    max_requests_per_job: int = MAX_REQUESTS_PER_JOB
    max_attempts: int = 3  # a request that failed this many times is not sent again
    keep_job_tables: bool = False  # keep each job's input and output tables (for debugging)
    poll_initial_seconds: float = 10.0
    poll_max_seconds: float = 300.0
    max_wait_hours: float = 96.0  # Vertex queues up to 72 h and runs up to 24 h

    @property
    def model_resource(self) -> str:
        """The `model` field of a BatchPredictionJob (gemini_batch.model_names: `models/x` is Google's publisher x)."""
        from gemini_batch.model_names import model_resource

        return model_resource(self.gemini_model)


_INT_KEYS = ("max_requests_per_job", "max_attempts")
_FLOAT_KEYS = ("poll_initial_seconds", "poll_max_seconds", "max_wait_hours")


def settings_for(node_name: str, config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> BatchSettings:
    """Settings for one gemini_batch model from its dbt config (numbers may arrive as floats from the manifest)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {
        "vertex_project": env.get(ENV_VERTEX_PROJECT) or None,
        "vertex_location": env.get(ENV_VERTEX_LOCATION) or None,
        "vertex_endpoint": env.get(ENV_VERTEX_ENDPOINT) or None,
    }
    if env.get(ENV_POLL_INITIAL_SECONDS):
        values["poll_initial_seconds"] = env[ENV_POLL_INITIAL_SECONDS]
    if env.get(ENV_POLL_MAX_SECONDS):
        values["poll_max_seconds"] = env[ENV_POLL_MAX_SECONDS]
    for key in BatchSettings.__dataclass_fields__:
        if config.get(key) is not None:
            values[key] = config[key]
    try:
        for key in _INT_KEYS:
            if key in values:
                values[key] = int(values[key])
        for key in _FLOAT_KEYS:
            if key in values:
                values[key] = float(values[key])
        if "keep_job_tables" in values:
            values["keep_job_tables"] = _as_bool(values["keep_job_tables"])
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"model {node_name}: invalid gemini_batch config: {exc}") from exc
    settings = BatchSettings(**values)
    if not 1 <= settings.max_requests_per_job <= MAX_REQUESTS_PER_JOB:
        raise SettingsError(
            f"model {node_name}: max_requests_per_job={settings.max_requests_per_job} must be between 1 and "
            f"{MAX_REQUESTS_PER_JOB} (Vertex's limit per batch job)"
        )
    if settings.max_attempts < 1:
        raise SettingsError(f"model {node_name}: max_attempts must be at least 1")
    return settings


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes"}:
        return True
    if text in {"false", "0", "no"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")
