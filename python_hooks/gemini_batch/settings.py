"""Per-model settings of the hook: ONE registry (the fields of BatchSettings), read from the dbt node's config.

Where a setting is read from, first found wins:
  1. the model's `meta` (`config(meta={'gemini_model': ...})`, `+meta: {gemini_model: ...}` in dbt_project.yml),
     the form dbt >= 1.10 asks for (it warns about custom top-level config keys);
  2. a top-level config key (`config(gemini_model=...)`, `+gemini_model:`), kept for compatibility;
  3. the setting's environment variable, when it has one;
  4. the default.
The same key in meta and at top level with different values is an error (which one was meant?).

The materialization reads the same registry from macros/settings/_settings_registry.sql with the same precedence and
the same checks (macros/settings/_validate_settings.sql), because request_hash includes gemini_model: dbt and this hook
must agree on it. tests/unit/test_settings.py renders the Jinja side and checks both agree on the registry and on every
error. To add a setting: one `setting(...)` line in BatchSettings and one entry in _settings_registry.sql.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from functools import cache
from typing import Any, TypeVar, get_args, get_type_hints

DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
MAX_REQUESTS_PER_JOB = 200_000  # Vertex's limit for one batch job
# Vertex's limit on a job's Cloud Storage input: "If you use Cloud Storage as input, the file size limit is also 1 GB"
# (docs.cloud.google.com/gemini-enterprise-agent-platform/models/capabilities/batch-inference, "Quotas and limits").
# Whether that is per file or per job is not documented: read per job, the stricter.
MAX_INPUT_BYTES_PER_JOB = 1_000_000_000

ENV_VERTEX_PROJECT = "GEMINI_BATCH_VERTEX_PROJECT"
ENV_VERTEX_LOCATION = "GEMINI_BATCH_VERTEX_LOCATION"
ENV_VERTEX_ENDPOINT = "GEMINI_BATCH_VERTEX_ENDPOINT"
# Polling cadence; the local stack sets short ones (its jobs take seconds, Vertex's take minutes to hours).
ENV_POLL_INITIAL_SECONDS = "GEMINI_BATCH_POLL_INITIAL_SECONDS"
ENV_POLL_MAX_SECONDS = "GEMINI_BATCH_POLL_MAX_SECONDS"

# Shape of a model name only (Vertex itself says whether the model exists): a publisher Gemini model by name, optionally
# versioned (gemini-2.5-flash-001, @default), as models/NAME or publishers/google/models/NAME, or a tuned model / its
# endpoint as a full resource name. Lower case: Vertex model IDs are.
# No backslashes in the patterns: they are copied verbatim into Jinja string literals (_settings_registry.sql).
_GEMINI_NAME = "gemini-[a-z0-9][a-z0-9.-]*[a-z0-9](@[a-z0-9][a-z0-9.-]*)?"
GEMINI_MODEL_PATTERN = (
    f"((models/|publishers/google/models/)?{_GEMINI_NAME}"
    "|projects/[a-z0-9][a-z0-9.:-]*/locations/[a-z0-9-]+/(models|endpoints)/[A-Za-z0-9_.@-]+)"
)
GEMINI_MODEL_HINT = (
    "must be a Gemini model name: a publisher model like gemini-2.5-flash or gemini-2.5-flash-001, models/NAME, "
    "publishers/google/models/NAME, or a tuned model projects/PROJECT/locations/LOCATION/models/ID (or endpoints/ID)"
)
# Vertex locations are lower-case regions (us-central1, europe-west4) or `global`. BigQuery's US/EU multi-regions are
# not Vertex locations; _multi_region_problem names the fix.
LOCATION_PATTERN = r"(global|[a-z]+-[a-z]+[0-9]+)"
LOCATION_HINT = "must be a Vertex AI region in lower case, such as us-central1 or europe-west4, or global"
MULTI_REGIONS = ("us", "eu")
# A Cloud Storage folder: gs://, a bucket name as Cloud Storage allows it (3-63 lower-case letters, digits, `-`, `_`,
# `.`, starting and ending with a letter or digit: cloud.google.com/storage/docs/buckets#naming), then optional path
# segments of safe characters (no wildcards, spaces or `#`: the hook appends job folders and `*` itself).
GCS_PREFIX_PATTERN = "gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[A-Za-z0-9._=-]+)*/?"
GCS_PREFIX_HINT = (
    "must be a Cloud Storage folder gs://BUCKET or gs://BUCKET/PATH: a bucket name of 3-63 lower-case letters, digits, "
    "dashes, underscores or dots, and a path of letters, digits, dashes, underscores, dots or = (no wildcards)"
)
NO_SPACES = "[!-~]+"  # printable ASCII, no spaces
ON_PENDING_PATTERN = "(warn|error|ignore)"

# Prefixes of our settings: a key starting with one of them that is not a setting is a near miss (vertex_region).
SETTING_PREFIXES = ("gemini_", "vertex_", "max_", "poll_")
# dbt's own model configs (dbt-core ModelConfig and dbt-bigquery's BigqueryConfig, plus dbt's spellings of a few):
# never flagged as a near miss, even when they look like one (max_staleness). tests/unit/test_settings.py checks that
# every config field of the installed dbt is here.
DBT_CONFIG_KEYS = frozenset(
    """
    access alias batch_size begin column_types concurrent_batches contract database docs enabled event_time freshness
    full_refresh grants group incremental_strategy latest_version_pointer lookback materialized meta
    on_configuration_change on_error on_schema_change packages persist_docs post_hook pre_hook post-hook pre-hook
    quoting schema static_analysis tags unique_key sql_header description
    cluster_by enable_change_history enable_list_inference enable_refresh grant_access_to hours_to_expiration
    intermediate_format job_execution_timeout_seconds kms_key_name labels max_staleness merge_update_columns
    notebook_template_id partition_by partition_expiration_days partitions refresh_interval_minutes
    require_partition_filter reservation submission_method project dataset location
    """.split()  # noqa: SIM905 - a word list reads better than 60 quoted lines
)
NEAR_MISS_DISTANCE = 2


class SettingsError(ValueError):
    """A model config that cannot work; the message names the model, the key, the bad value and the fix."""


@dataclass(frozen=True)
class Spec:
    """What a setting accepts besides its type; the same fields as an entry of _settings_registry.sql."""

    description: str
    minimum: float | None = None  # inclusive
    maximum: float | None = None  # inclusive
    above: float | None = None  # exclusive lower bound
    pattern: str | None = None  # full match, for strings
    hint: str | None = None  # what the pattern means, for the error message
    env: str | None = None  # environment variable read when the model does not set it


T = TypeVar("T")


def _same_model(a: str, b: str) -> bool:
    """Two gemini_model values naming one model (prices.normalize_model's rule, kept here to import nothing)."""
    prefix = re.compile(r"^(publishers/google/models/|models/)")
    return prefix.sub("", a.strip()) == prefix.sub("", b.strip())


def setting(default: T, description: str, **spec: Any) -> T:
    """One registry entry: a BatchSettings field with its default and its Spec."""
    return field(default=default, metadata={"spec": Spec(description, **spec)})


@dataclass(frozen=True)
class BatchSettings:
    """The registry of package settings: one line each (type, default, description, allowed values)."""

    # fmt: off
    gemini_model: str = setting(DEFAULT_GEMINI_MODEL, "Gemini model answering the requests; part of request_hash", pattern=GEMINI_MODEL_PATTERN, hint=GEMINI_MODEL_HINT)  # noqa: E501
    vertex_project: str | None = setting(None, "project that runs the batch jobs (default: the model's BigQuery project)", pattern=NO_SPACES, hint="must be a project ID", env=ENV_VERTEX_PROJECT)  # noqa: E501
    vertex_location: str | None = setting(None, "Vertex AI region of the jobs (default: the target's location)", pattern=LOCATION_PATTERN, hint=LOCATION_HINT, env=ENV_VERTEX_LOCATION)  # noqa: E501
    vertex_endpoint: str | None = setting(None, "Vertex AI API host (default: Google's endpoint of the location)", pattern=NO_SPACES, hint="must be a host or URL", env=ENV_VERTEX_ENDPOINT)  # noqa: E501
    max_requests_per_job: int = setting(MAX_REQUESTS_PER_JOB, "rows per batch job (Vertex's limit is 200000)", minimum=1, maximum=MAX_REQUESTS_PER_JOB)  # noqa: E501
    max_jobs_in_flight_per_model: int = setting(8, "batch jobs of this model running at once; more chunks wait for a place (Vertex runs 8 Gemini batch jobs at once per project)", minimum=1)  # noqa: E501
    max_attempts: int = setting(3, "a request that failed this many times is not sent again", minimum=1)
    max_failed_jobs: int = setting(3, "a request whose batch jobs ended FAILED this many times is not sent again (cancelled jobs do not count)", minimum=1)  # noqa: E501
    keep_job_tables: bool = setting(False, "keep each job's input and output tables (for debugging)")
    poll_initial_seconds: float = setting(10.0, "first wait between job status polls", above=0, env=ENV_POLL_INITIAL_SECONDS)  # noqa: E501
    poll_max_seconds: float = setting(300.0, "longest wait between job status polls", above=0, env=ENV_POLL_MAX_SECONDS)
    on_missing_answers: str = setting("error", "a succeeded job that did not answer every row sent fails the run (error) or only says so (warn)", pattern="(error|warn)", hint="must be error or warn")  # noqa: E501
    max_wait_hours: float = setting(96.0, "stop waiting after this long (Vertex queues up to 72 h, runs up to 24 h)", above=0)  # noqa: E501
    max_requests_per_run: int | None = setting(None, "stop before submitting when more requests than this would be sent (guard)", minimum=1)  # noqa: E501
    max_estimated_cost_usd: float | None = setting(None, "stop before submitting when the estimated cost in USD is above this (guard)", minimum=0)  # noqa: E501
    max_resend_share: float = setting(0.5, "warn (or stop, on_resend=error) when more than this share of answered keys would be re-sent", minimum=0, maximum=1)  # noqa: E501
    on_resend: str = setting("warn", "what max_resend_share does when exceeded: warn or error", pattern="(warn|error)", hint="must be warn or error")  # noqa: E501
    max_error_ratio: float | None = setting(None, "fail the model when failed rows / processed rows of a run is above this", minimum=0, maximum=1)  # noqa: E501
    output_schema: str | dict[str, Any] | None = setting(None, "answer fields as BigQuery columns ('name TYPE, ...') or a dict: the request's responseSchema and the view's typed columns")  # noqa: E501, RUF009
    retry_unusable_answers: bool = setting(True, "a truncated (MAX_TOKENS) or invalid_output answer counts as a failed attempt and is sent again")  # noqa: E501
    on_pending: str = setting("warn", "a plain dbt run that leaves requests unanswered: warn, error (fail the model) or ignore", pattern=ON_PENDING_PATTERN, hint="must be warn, error or ignore")  # noqa: E501
    unique_key: str | list[str] | None = setting(None, "the column(s) naming the same row across runs, for previous_response (default: the model's columns other than request)")  # noqa: E501, RUF009
    incremental_requests: bool = setting(False, "build m__requests incrementally: the model's SQL gives only new or changed rows when gemini_batch.is_incremental_requests() (keyed by unique_key)")  # noqa: E501
    transport: str = setting("bigquery", "how requests reach Vertex and answers come back: bigquery (job tables) or gcs (JSONL files under gcs_prefix, exported and loaded by BigQuery)", pattern="(bigquery|gcs)", hint="must be bigquery or gcs")  # noqa: E501
    gcs_prefix: str | None = setting(None, "Cloud Storage folder (gs://bucket/path) for the jobs' JSONL files; required with transport gcs", pattern=GCS_PREFIX_PATTERN, hint=GCS_PREFIX_HINT)  # noqa: E501
    max_input_bytes_per_job: int = setting(MAX_INPUT_BYTES_PER_JOB, "transport gcs: bytes of JSONL input per batch job; larger chunks are split (Vertex's Cloud Storage input limit is 1 GB)", minimum=1, maximum=MAX_INPUT_BYTES_PER_JOB)  # noqa: E501
    check_file_uris: str = setting("sample", "before submitting, check that the gs:// objects of fileData parts exist: sample (up to 100 distinct URIs of the rows to send), all, or off", pattern="(off|sample|all)", hint="must be off, sample or all")  # noqa: E501
    escalate_to: str | None = setting(None, "cascade: a second Gemini model that answers again the rows whose first answer matches escalate_when, in a following round (the view shows the final answer and answered_by)", pattern=GEMINI_MODEL_PATTERN, hint=GEMINI_MODEL_HINT)  # noqa: E501
    escalate_when: str | None = setting(None, "cascade: a SQL predicate over the view's typed columns and output_state (e.g. \"output_state != 'answered' or confidence < 0.7\"); required with escalate_to")  # noqa: E501
    answer_with: str = setting("batch", "how pending requests are answered: batch (Vertex batch jobs, the hook), inline (BigQuery's AI.GENERATE inside the model's own dbt run) or auto (inline when at most inline_max_requests are pending, else batch)", pattern="(batch|inline|auto)", hint="must be batch, inline or auto")  # noqa: E501
    inline_max_requests: int = setting(100, "answer_with auto: the most pending requests answered inline with AI.GENERATE; more go to a batch job", minimum=1)  # noqa: E501
    inline_connection_id: str | None = setting(None, "the BigQuery connection AI.GENERATE uses for inline answers (default: the credentials of the dbt run)", pattern="[A-Za-z0-9_./-]+", hint="must be a BigQuery connection such as us.my_connection or projects/P/locations/L/connections/C")  # noqa: E501
    # fmt: on

    @property
    def model_resource(self) -> str:
        """The `model` field of a BatchPredictionJob (gemini_batch.model_names: `models/x` is Google's publisher x)."""
        from gemini_batch.model_names import model_resource

        return model_resource(self.gemini_model)


@dataclass(frozen=True)
class SettingInfo:
    """A registry entry as data: the form the Jinja registry has, so the two can be compared."""

    name: str
    type: str  # 'str', 'int', 'float', 'bool' or 'any' (a string, a list or a dict: output_schema, unique_key)
    default: Any
    spec: Spec


@cache
def registry() -> dict[str, SettingInfo]:
    """Every package setting by name, in declaration order."""
    hints = get_type_hints(BatchSettings)
    entries = {}
    for f in fields(BatchSettings):
        types = [t for t in get_args(hints[f.name]) or (hints[f.name],) if t is not type(None)]
        default = None if f.default is MISSING else f.default
        kind = types[0].__name__ if len(types) == 1 else "any"
        entries[f.name] = SettingInfo(f.name, kind, default, f.metadata["spec"])
    return entries


# -- key names ---------------------------------------------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (the Jinja side has the same in _settings_edit_distance.sql)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest_setting(key: str) -> str | None:
    """The setting a config key was probably meant to be, or None when the key is a setting or unrelated to them.

    A near miss is within edit distance 2 of a setting (after lower-casing, `-` as `_`), has a setting's words in
    another order, or starts with a settings prefix (gemini_, vertex_, max_, poll_). dbt's own configs never are.
    """
    known = registry()
    if key in known or key in DBT_CONFIG_KEYS:
        return None
    normal = key.lower().replace("-", "_")
    best, best_distance = None, None
    for name in known:
        distance = edit_distance(normal, name)
        if best_distance is None or distance < best_distance:
            best, best_distance = name, distance
    if best_distance is not None and best_distance <= NEAR_MISS_DISTANCE:
        return best
    words = sorted(normal.split("_"))
    for name in known:
        if sorted(name.split("_")) == words:
            return name
    if normal.startswith(SETTING_PREFIXES):
        return best
    return None


def _key_problems(config: Mapping[str, Any], meta: Mapping[str, Any]) -> list[str]:
    problems = []
    for where, keys in (("meta key", meta), ("config key", config)):
        for key in keys:
            meant = closest_setting(str(key))
            if meant is not None:
                problems.append(
                    f"{where} {key!r} is not a gemini_batch setting; did you mean {meant!r}? "
                    f"Rename it (settings: {', '.join(registry())})"
                )
    return problems


def problems_message(node_name: str, problems: list[str]) -> str:
    """Every problem of a model's settings in one message, so one run shows them all (the Jinja side words it
    the same way: macros/settings/_validate_settings.sql)."""
    if len(problems) == 1:
        return f"model {node_name}: {problems[0]}"
    numbered = "; ".join(f"({i}) {problem}" for i, problem in enumerate(problems, start=1))
    return f"model {node_name}: {len(problems)} settings problems: {numbered}"


# -- values ------------------------------------------------------------------------------------------------------

# Numbers given as text (environment variables, env_var() in yml); the Jinja side uses the same patterns.
INT_TEXT = "-?[0-9]+"
FLOAT_TEXT = "-?[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?"
TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "any": "a non-empty string, list or dictionary",
}


def _convert(info: SettingInfo, value: Any) -> Any:
    """The value as the setting's type; None when it cannot be one. Text is accepted (env vars, env_var() in yml)."""
    text = value.strip() if isinstance(value, str) else None
    if info.type == "bool":
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False}.get(text.lower()) if text is not None else None
    if info.type == "any":
        filled = value.strip() if isinstance(value, str) else value
        return value if isinstance(value, str | list | Mapping) and filled else None
    if isinstance(value, bool):
        return None  # True is an int in Python, never a number of requests
    if info.type == "int":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # manifests may carry 5.0
        return int(text) if text is not None and re.fullmatch(INT_TEXT, text) else None
    if info.type == "float":
        if isinstance(value, int | float):
            return float(value)
        return float(text) if text is not None and re.fullmatch(FLOAT_TEXT, text) else None
    return value if isinstance(value, str) and value.strip() else None


def _value_problem(info: SettingInfo, value: Any) -> str | None:
    """Why a converted value is not allowed, as the end of a sentence; None when it is."""
    spec = info.spec
    if info.name == "vertex_location" and str(value).lower() in MULTI_REGIONS:
        return (
            "is a BigQuery multi-region, not a Vertex AI location: set vertex_location to a region inside it "
            "(for example us-central1 for US, europe-west4 for EU) and keep the model's datasets in that region"
        )
    if spec.pattern is not None and isinstance(value, str) and not re.fullmatch(spec.pattern, value):
        return spec.hint or f"must match {spec.pattern}"
    if spec.minimum is not None and spec.maximum is not None and not spec.minimum <= value <= spec.maximum:
        return f"must be between {spec.minimum} and {spec.maximum}"
    if spec.minimum is not None and value < spec.minimum:
        return f"must be at least {spec.minimum}"
    if spec.above is not None and value <= spec.above:
        return f"must be greater than {spec.above}"
    return None


def _bad_value(key: str, value: Any, source: str, problem: str) -> str:
    shown = json.dumps(value, default=str)
    return f"{key}={shown} ({source}) {problem}"


def settings_for(node_name: str, config: Mapping[str, Any], env: Mapping[str, str] | None = None) -> BatchSettings:
    """Settings for one gemini_batch model from its dbt node config (manifest), checked as the materialization does;
    SettingsError names every problem at once."""
    env = os.environ if env is None else env
    meta = config.get("meta") or {}
    if not isinstance(meta, Mapping):
        raise SettingsError(f"model {node_name}: config meta must be a dictionary, got {json.dumps(meta, default=str)}")
    problems = _key_problems(config, meta)
    values: dict[str, Any] = {}
    bad: set[str] = set()  # settings with a problem: not checked against each other
    for name, info in registry().items():
        in_meta, top = meta.get(name), config.get(name)
        if in_meta is not None and top is not None and in_meta != top:
            bad.add(name)
            problems.append(
                f"{name} is set both in meta ({json.dumps(in_meta, default=str)}) and as a "
                f"top-level config ({json.dumps(top, default=str)}); keep only the one in meta"
            )
            continue
        if in_meta is not None:
            raw, source = in_meta, "from meta"
        elif top is not None:
            raw, source = top, "from config"
        elif info.spec.env and env.get(info.spec.env):
            raw, source = env[info.spec.env], f"from environment variable {info.spec.env}"
        else:
            continue
        value = _convert(info, raw)
        problem = f"must be {TYPE_WORDS[info.type]}" if value is None else _value_problem(info, value)
        if value is None and info.type == "str" and isinstance(raw, bool):
            # YAML 1.1 (dbt's yml files) reads a bare off/on/no/yes as a boolean: check_file_uris: off is false
            problem = f"{problem} (YAML reads a bare off, on, no or yes as false or true: quote it, e.g. 'off')"
        if problem is not None:
            bad.add(name)
            problems.append(_bad_value(name, raw, source, problem))
            continue
        values[name] = value
    settings = BatchSettings(**values)
    if not bad & {"poll_initial_seconds", "poll_max_seconds"} and (
        settings.poll_initial_seconds > settings.poll_max_seconds
    ):
        problems.append(
            f"poll_initial_seconds={settings.poll_initial_seconds} is greater than "
            f"poll_max_seconds={settings.poll_max_seconds}; make poll_initial_seconds at most poll_max_seconds"
        )
    if not bad & {"escalate_to", "escalate_when"} and (settings.escalate_to is None) != (
        settings.escalate_when is None
    ):
        given, missing = (
            ("escalate_to", "escalate_when") if settings.escalate_when is None else ("escalate_when", "escalate_to")
        )
        problems.append(
            f"{given} needs {missing}: a cascade names the second Gemini model (escalate_to) and "
            "the rows it answers again (escalate_when, a SQL predicate over the model's typed columns and output_state)"
        )
    if (
        not bad & {"escalate_to", "gemini_model"}
        and settings.escalate_to is not None
        and _same_model(settings.escalate_to, settings.gemini_model)
    ):
        problems.append(f"escalate_to={settings.escalate_to!r} is the model's own gemini_model; name a second model")
    if not bad & {"transport", "gcs_prefix"} and settings.transport == "gcs" and settings.gcs_prefix is None:
        problems.append(
            "transport=gcs needs gcs_prefix, the Cloud Storage folder for the jobs' JSONL files "
            "(for example gs://my-bucket/gemini-batch); set gcs_prefix in the model's meta"
        )
    if problems:
        raise SettingsError(problems_message(node_name, problems))
    return settings
