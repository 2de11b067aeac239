"""Settings of the local Vertex AI emulator: timings, fault injection and which responder answers the rows.

One frozen dataclass, built from a dict, a JSON file or the file named by $GEMINI_BATCH_EMULATOR_CONFIG, and
merged with partial updates at runtime (POST /emulator/config) so a test can switch a fault on without
restarting the server. Unknown keys are rejected: a misspelt fault setting that silently does nothing would
make a test pass for the wrong reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gemini_batch.emulator.models import EXTRA_MODELS_ENV, check_model_ids, check_tuned_names

ENV_VAR = "GEMINI_BATCH_EMULATOR_CONFIG"

API_METHODS = ("create", "get", "list", "cancel", "delete")
# HTTP status -> google.rpc code name, for the API errors the emulator can inject.
INJECTABLE_API_CODES = {
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# HTTP-like code -> google.rpc status name, for rows answered with an injected failure.
INJECTABLE_ROW_CODES = {
    400: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
RESPONDERS = ("deterministic", "openai")
ECHOES = ("vertex", "verbatim")
WAITING_STATES = ("PENDING", "QUEUED")


@dataclass(frozen=True)
class OpenAIConfig:
    """An OpenAI-compatible chat completions server (vLLM, Ollama, llama.cpp) that answers the rows.

    The key itself never lives in the config (which is served by GET /emulator/config and may be committed);
    only the name of the environment variable that holds it.
    """

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    api_key_env: str | None = None
    timeout_seconds: float = 120.0
    max_retries: int = 2
    concurrency: int = 4

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes how the emulator behaves; each default suits a fast test run."""

    # Timings: a job waits queue_delay in PENDING, run_delay in RUNNING before the first row, per_row_latency
    # per row.
    queue_delay_seconds: float = 0.2
    run_delay_seconds: float = 0.0
    per_row_latency_seconds: float = 0.0
    chunk_rows: int = 2000  # rows read and answered per step; a cancel is noticed between rows
    # Output loads: one per write_batch_rows rows, or sooner once answered rows have waited write_interval_seconds.
    # Few large loads matter on bqemulator, which copies the whole table into a snapshot on every write.
    write_batch_rows: int = 20_000
    write_interval_seconds: float = 1.0
    # Jobs of the project running at once; the others wait in waiting_state ("PENDING", or "QUEUED" as Vertex shows a
    # job waiting for capacity), and one still waiting max_queue_seconds after its createTime ends EXPIRED (Vertex:
    # a Gemini batch job queued for 72 hours expires).
    max_concurrent_jobs: int = 4
    waiting_state: str = "PENDING"
    max_queue_seconds: float = 72 * 3600.0
    max_input_rows: int = 200_000  # Vertex's per-job limit; lower it to test the limit cheaply
    # Vertex's limit on JSONL input in Cloud Storage (1 GB), applied to each file and to a job's files together (Google
    # does not say which it means); lower it to test the limit cheaply.
    max_input_file_bytes: int = 1_000_000_000
    # Row faults: this fraction of rows (picked by hash of the request and seed, so reproducible) fail with
    # row_failure_code.
    row_failure_rate: float = 0.0
    row_failure_code: int = 500
    # Short output: this fraction of rows (picked by hash like row failures) is silently left out of the output while
    # the job still ends SUCCEEDED, the loss the issue "Scale and concurrency" saw; a client must notice it.
    drop_rows_rate: float = 0.0
    # Job faults: True fails every job; a glob (or list of globs) fails jobs whose displayName matches.
    fail_jobs: bool | str | list[str] = False
    fail_jobs_code: int = 13
    # API faults: this fraction of calls to api_error_methods answer with one of api_error_codes (evenly
    # spaced, cycling).
    api_error_rate: float = 0.0
    api_error_codes: list[int] = field(default_factory=lambda: [429, 503])
    api_error_methods: list[str] = field(default_factory=lambda: list(API_METHODS))
    # False: the faulted call has no effect. True: it takes effect, then errors (a create that made a job but
    # timed out).
    api_error_after_commit: bool = False
    # A job shows in `list` only this long after its createTime (get finds it at once): Vertex does not document its
    # list as read-after-write, so a client that looks a job up right after an ambiguous create must cope with lag.
    list_lag_seconds: float = 0.0
    seed: int = 0
    responder: str = "deterministic"
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)
    # The project number accepted as an alias of the project id in paths.
    project_number: str = "123456789012"
    # Which form resource names (job and operation names) carry: "number" like real Vertex, or "id".
    resource_name_project: str = "number"
    # What to do when bigqueryDestination names a table that already exists: "fail" the job, or "append" to
    # it.
    existing_output_table: str = "fail"
    # How outputInfo.bigqueryOutputTable names the output table: "uri" (bq://project.dataset.table, what Google's
    # Gemini batch samples and SDK tests show) or "name" (the bare predictions_<timestamp> name the API reference
    # documents for OutputInfo.bigquery_output_table). A client must cope with both.
    output_table_format: str = "uri"
    # How the output echoes the input (emulator/echo.py): "vertex" as Google's samples show Vertex writing it (request
    # re-serialised with sorted keys and null-padded fields, failed JSONL lines without `response`, rows out of input
    # order, numeric-looking JSONL keys as numbers), or "verbatim": the input as given, in input order, for comparison.
    echo: str = "vertex"
    # Model registry: publisher model ids served on top of models.json, and tuned models
    # (projects/P/locations/L/models/ID) that exist; a tuned model is usable only by jobs in its own location.
    extra_publisher_models: list[str] = field(default_factory=list)
    tuned_models: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        problems = []
        for name in ("queue_delay_seconds", "run_delay_seconds", "per_row_latency_seconds", "list_lag_seconds"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        for name in ("row_failure_rate", "api_error_rate", "drop_rows_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        if self.chunk_rows < 1 or self.write_batch_rows < 1 or self.max_concurrent_jobs < 1 or self.max_input_rows < 0:
            problems.append("chunk_rows, write_batch_rows and max_concurrent_jobs must be >= 1, max_input_rows >= 0")
        if self.max_input_file_bytes < 1:
            problems.append("max_input_file_bytes must be >= 1")
        if self.write_interval_seconds < 0:
            problems.append("write_interval_seconds must be >= 0")
        if self.row_failure_code not in INJECTABLE_ROW_CODES:
            problems.append(f"row_failure_code must be one of {sorted(INJECTABLE_ROW_CODES)}")
        bad_codes = [c for c in self.api_error_codes if c not in INJECTABLE_API_CODES]
        if bad_codes or not self.api_error_codes:
            problems.append(f"api_error_codes must be a non-empty subset of {sorted(INJECTABLE_API_CODES)}")
        bad_methods = [m for m in self.api_error_methods if m not in API_METHODS]
        if bad_methods:
            problems.append(f"api_error_methods must be among {list(API_METHODS)}, got {bad_methods}")
        if self.responder not in RESPONDERS:
            problems.append(f"responder must be one of {list(RESPONDERS)}")
        if self.resource_name_project not in ("number", "id"):
            problems.append('resource_name_project must be "number" or "id"')
        if self.existing_output_table not in ("fail", "append"):
            problems.append('existing_output_table must be "fail" or "append"')
        if self.waiting_state not in WAITING_STATES:
            problems.append(f"waiting_state must be one of {list(WAITING_STATES)}")
        if self.max_queue_seconds <= 0:
            problems.append("max_queue_seconds must be > 0")
        if self.echo not in ECHOES:
            problems.append(f"echo must be one of {list(ECHOES)}")
        if self.output_table_format not in ("uri", "name"):
            problems.append('output_table_format must be "uri" or "name"')
        problems += check_model_ids(self.extra_publisher_models, "extra_publisher_models")
        problems += check_tuned_names(self.tuned_models)
        if not str(self.project_number).isdigit():
            problems.append("project_number must be digits")
        if not isinstance(self.fail_jobs, bool | str | list):
            problems.append("fail_jobs must be a bool, a glob or a list of globs")
        if problems:
            raise ValueError("invalid emulator config: " + "; ".join(problems))

    # -- construction ----------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        return cls().merged(data)

    @classmethod
    def from_file(cls, path: str | Path) -> EmulatorConfig:
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the emulator config must be a JSON object")
        return cls.from_dict(data)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> EmulatorConfig:
        """The config in the JSON file $GEMINI_BATCH_EMULATOR_CONFIG names (or the defaults), plus the publisher
        models listed in $GEMINI_BATCH_EMULATOR_EXTRA_MODELS (comma-separated)."""
        env = os.environ if environ is None else environ
        path = env.get(ENV_VAR)
        return (cls.from_file(path) if path else cls()).with_extra_models(env.get(EXTRA_MODELS_ENV, "").split(","))

    def with_extra_models(self, names: list[str]) -> EmulatorConfig:
        extra = [n.strip() for n in names if n.strip() and n.strip() not in self.extra_publisher_models]
        return self.merged({"extra_publisher_models": self.extra_publisher_models + extra}) if extra else self

    def merged(self, patch: dict[str, Any]) -> EmulatorConfig:
        """A copy with the keys of `patch` replaced (the `openai` section is merged key by key)."""
        if not isinstance(patch, dict):
            raise ValueError("the emulator config must be a JSON object")
        known = {f.name for f in fields(self)}
        unknown = sorted(set(patch) - known)
        if unknown:
            raise ValueError(f"unknown emulator config keys {unknown}; known: {sorted(known)}")
        changes: dict[str, Any] = dict(patch)
        if "openai" in changes:
            section = changes["openai"]
            if isinstance(section, OpenAIConfig):
                pass
            elif isinstance(section, dict):
                openai_known = {f.name for f in fields(OpenAIConfig)}
                bad = sorted(set(section) - openai_known)
                if bad:
                    raise ValueError(f"unknown openai config keys {bad}; known: {sorted(openai_known)}")
                changes["openai"] = replace(self.openai, **section)
            else:
                raise ValueError("openai must be a JSON object")
        for key in ("api_error_codes", "api_error_methods", "extra_publisher_models", "tuned_models"):
            if key in changes and isinstance(changes[key], str):
                raise ValueError(f"{key} must be a JSON list, not a string")
            if key in changes:
                changes[key] = list(changes[key])
        if "project_number" in changes:
            changes["project_number"] = str(changes["project_number"])
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
