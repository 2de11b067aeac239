"""Check a create-batchPredictionJob body the way Vertex does before it accepts a job.

Only what Vertex rejects synchronously (INVALID_ARGUMENT at create) lives here. Problems with the data itself
(missing table, wrong columns, wrong region) are found later by the job runner and fail the job, as they do on
Vertex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gemini_batch.emulator.errors import invalid_argument
from gemini_batch.emulator.models import resolve_model

MAX_BQ_URI_CHARS = 2000
MAX_DISPLAY_NAME_CHARS = 128
MAX_LABELS = 64

# Every field of BatchPredictionJob in v1 and v1beta1, camelCase as the client sends them. Output-only ones
# are ignored.
JOB_FIELDS = {
    "name", "displayName", "model", "modelVersionId", "unmanagedContainerModel", "inputConfig",
    "instanceConfig",
    "modelParameters", "outputConfig", "dedicatedResources", "serviceAccount", "manualBatchTuningParameters",
    "generateExplanation", "explanationSpec", "outputInfo", "state", "error", "partialFailures",
    "resourcesConsumed",
    "completionStats", "createTime", "startTime", "endTime", "updateTime", "labels", "encryptionSpec",
    "disableContainerLogging", "satisfiesPzs", "satisfiesPzi", "endpoint", "modelMonitoringConfig",
    "modelMonitoringStatsAnomalies", "modelMonitoringStatus",
}  # fmt: skip
INPUT_CONFIG_FIELDS = {"instancesFormat", "gcsSource", "bigquerySource", "vertexMultimodalDatasetSource"}
OUTPUT_CONFIG_FIELDS = {
    "predictionsFormat",
    "gcsDestination",
    "bigqueryDestination",
    "vertexMultimodalDatasetDestination",
}
# Fields a Gemini batch job does not support; Vertex refuses them rather than ignoring them.
UNSUPPORTED_FOR_GEMINI = {"serviceAccount", "encryptionSpec", "dedicatedResources", "explanationSpec"}

_PROJECT = r"[a-z][a-z0-9-]{4,28}[a-z0-9]"
_DATASET = r"[A-Za-z0-9_]{1,1024}"
_TABLE = r"[^.`\s/]{1,1024}"
_BQ_TABLE_URI = re.compile(rf"^bq://(?P<project>{_PROJECT})\.(?P<dataset>{_DATASET})\.(?P<table>{_TABLE})$")
_BQ_DEST_URI = re.compile(rf"^bq://(?P<project>{_PROJECT})\.(?P<dataset>{_DATASET})(?:\.(?P<table>{_TABLE}))?$")
GCS_URI = re.compile(r"^gs://(?P<bucket>[a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:/(?P<name>.*))?$")
LABEL_KEY = re.compile(r"^[a-z\u0080-\uffff][a-z0-9_\-\u0080-\uffff]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_\-\u0080-\uffff]{0,63}$")


@dataclass(frozen=True)
class BigQueryRef:
    """A BigQuery dataset or table named by a bq:// URI."""

    project: str
    dataset: str
    table: str | None = None

    @property
    def dataset_id(self) -> str:
        return f"{self.project}.{self.dataset}"

    @property
    def table_id(self) -> str:
        if self.table is None:
            raise ValueError(f"bq://{self.dataset_id} names a dataset, not a table")
        return f"{self.project}.{self.dataset}.{self.table}"

    def with_table(self, table: str) -> BigQueryRef:
        return BigQueryRef(self.project, self.dataset, table)

    @property
    def uri(self) -> str:
        return f"bq://{self.dataset_id}" + (f".{self.table}" if self.table else "")


@dataclass(frozen=True)
class GcsUri:
    bucket: str
    name: str  # object name or prefix, "" for the bucket root

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}" if self.name else f"gs://{self.bucket}"


def parse_gcs_uri(uri: Any, field_name: str) -> GcsUri:
    """A gs://bucket[/name] URI, or INVALID_ARGUMENT naming the field (checked at create, as Vertex does)."""
    match = GCS_URI.match(uri) if isinstance(uri, str) else None
    if not match:
        raise invalid_argument(f'{field_name} "{uri}" is not a valid Cloud Storage URI: expected gs://bucket/path.')
    return GcsUri(match["bucket"], match["name"] or "")


@dataclass(frozen=True)
class JobSpec:
    """The accepted parts of a create body, normalized to camelCase."""

    display_name: str
    model: str
    model_id: str  # "gemini-2.5-flash" or the tuned model's id
    input_config: dict[str, Any]
    output_config: dict[str, Any]
    labels: dict[str, str]
    source: BigQueryRef | None  # None for a JSONL (Cloud Storage) input
    destination: BigQueryRef | None  # None for a JSONL (Cloud Storage) output
    model_parameters: Any = None


@lru_cache(maxsize=8192)  # called for every key of every row's request: the same few names over and over
def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_keys(obj: dict[str, Any], where: str, known: set[str]) -> dict[str, Any]:
    """Accept snake_case or camelCase names (as proto JSON does); refuse unknown ones, as Vertex does."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = camel(key)
        if name not in known:
            raise invalid_argument(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': Cannot find field."
            )
        out[name] = value
    return out


def parse_table_uri(uri: str) -> BigQueryRef:
    match = _BQ_TABLE_URI.match(uri)
    if not match:
        raise invalid_argument(f'BigQuery source URI "{uri}" is not valid: expected bq://project.dataset.table.')
    return BigQueryRef(match["project"], match["dataset"], match["table"])


def parse_destination_uri(uri: str) -> BigQueryRef:
    match = _BQ_DEST_URI.match(uri)
    if not match:
        raise invalid_argument(
            f'BigQuery destination URI "{uri}" is not valid: expected bq://project.dataset or bq://project.dataset.table.'
        )
    return BigQueryRef(match["project"], match["dataset"], match["table"])


def check_labels(labels: Any) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise invalid_argument("labels must be a map of strings to strings.")
    if len(labels) > MAX_LABELS:
        raise invalid_argument(f"At most {MAX_LABELS} labels are allowed, got {len(labels)}.")
    for key, value in labels.items():
        if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
            raise invalid_argument(
                f"Invalid label {key}={value}: keys start with a lowercase letter; keys and values use "
                "lowercase "
                "letters, digits, '_' and '-', at most 63 characters."
            )
    return dict(labels)


def _bq_uri(section: dict[str, Any], key: str, field_name: str, where: str) -> str:
    inner = section.get(key)
    if not isinstance(inner, dict):
        raise invalid_argument(f"{where}.{key} is required when the format is bigquery.")
    uri = inner.get(field_name, inner.get(field_name.replace("Uri", "_uri")))
    if not isinstance(uri, str) or not uri:
        raise invalid_argument(f"{where}.{key}.{field_name} is required.")
    if len(uri) > MAX_BQ_URI_CHARS:
        raise invalid_argument(f"{where}.{key}.{field_name} is longer than {MAX_BQ_URI_CHARS} characters.")
    return uri


def _gcs_uris(section: dict[str, Any]) -> list[str]:
    inner = section.get("gcsSource")
    if not isinstance(inner, dict):
        raise invalid_argument("input_config.gcs_source is required when the format is jsonl.")
    uris = inner.get("uris")
    if isinstance(uris, str):  # proto JSON takes a scalar for a repeated field of one value; Google's sample sends one
        uris = [uris]
    if not isinstance(uris, list) or not uris:
        raise invalid_argument("input_config.gcs_source.uris is required.")
    for uri in uris:
        parse_gcs_uri(uri, "input_config.gcs_source.uris")
    return list(uris)


def _gcs_prefix(section: dict[str, Any]) -> str:
    inner = section.get("gcsDestination")
    if not isinstance(inner, dict):
        raise invalid_argument("output_config.gcs_destination is required when the format is jsonl.")
    prefix = inner.get("outputUriPrefix", inner.get("output_uri_prefix"))
    parse_gcs_uri(prefix, "output_config.gcs_destination.output_uri_prefix")
    return str(prefix)


def validate_create(
    body: Any,
    projects: set[str],
    location: str,
    extra_publisher_models: Iterable[str] = (),
    tuned_models: Iterable[str] = (),
) -> JobSpec:
    """Validate a create body; raise ApiError(INVALID_ARGUMENT) like Vertex, or return the accepted spec."""
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. Expected a BatchPredictionJob object.")
    job = camel_keys(body, "batch_prediction_job", JOB_FIELDS)
    for name in sorted(UNSUPPORTED_FOR_GEMINI & set(job)):
        if job[name]:
            raise invalid_argument(f"{name} is not supported for Gemini batch prediction.")
    display_name = job.get("displayName") or ""
    if not isinstance(display_name, str) or not display_name.strip():
        raise invalid_argument("Field `display_name` is required.")
    if len(display_name) > MAX_DISPLAY_NAME_CHARS:
        raise invalid_argument(f"display_name is longer than {MAX_DISPLAY_NAME_CHARS} characters.")
    model = job.get("model") or ""
    if not isinstance(model, str):
        raise invalid_argument("Field `model` must be a string.")
    model_id = resolve_model(model, projects, location, extra_publisher_models, tuned_models)

    raw_input = job.get("inputConfig")
    if not isinstance(raw_input, dict):
        raise invalid_argument("Field `input_config` is required.")
    input_config = camel_keys(raw_input, "batch_prediction_job.input_config", INPUT_CONFIG_FIELDS)
    raw_output = job.get("outputConfig")
    if not isinstance(raw_output, dict):
        raise invalid_argument("Field `output_config` is required.")
    output_config = camel_keys(raw_output, "batch_prediction_job.output_config", OUTPUT_CONFIG_FIELDS)

    instances_format = input_config.get("instancesFormat")
    if not instances_format:
        raise invalid_argument("input_config.instances_format is required.")
    predictions_format = output_config.get("predictionsFormat")
    if not predictions_format:
        raise invalid_argument("output_config.predictions_format is required.")
    # Gemini batch reads BigQuery tables or Cloud Storage JSONL and writes either (Google's batch prediction page lists
    # bigquery/jsonl for both sides). A JSONL input written to a BigQuery table would need the output schema Vertex
    # derives from the lines, which Google does not document, so the local emulator refuses that one combination.
    source: BigQueryRef | None = None
    destination: BigQueryRef | None = None
    if instances_format == "bigquery" and "gcsSource" not in input_config:
        source = parse_table_uri(_bq_uri(input_config, "bigquerySource", "inputUri", "input_config"))
        input_config = {"instancesFormat": "bigquery", "bigquerySource": {"inputUri": source.uri}}
    elif instances_format == "jsonl" and "bigquerySource" not in input_config:
        input_config = {"instancesFormat": "jsonl", "gcsSource": {"uris": _gcs_uris(input_config)}}
    else:
        raise invalid_argument(
            f"input_config.instances_format {instances_format!r} with {sorted(set(input_config) - {'instancesFormat'})}"
            " is not supported for Gemini batch prediction: use 'bigquery' with bigquery_source or 'jsonl' with "
            "gcs_source."
        )
    if predictions_format == "bigquery" and "gcsDestination" not in output_config:
        if source is None:
            raise invalid_argument(
                "The local emulator writes JSONL input (gcs_source) only to Cloud Storage: use predictions_format "
                "'jsonl' with gcs_destination, or a BigQuery input table."
            )
        destination = parse_destination_uri(_bq_uri(output_config, "bigqueryDestination", "outputUri", "output_config"))
        output_config = {"predictionsFormat": "bigquery", "bigqueryDestination": {"outputUri": destination.uri}}
    elif predictions_format == "jsonl" and "bigqueryDestination" not in output_config:
        output_config = {
            "predictionsFormat": "jsonl",
            "gcsDestination": {"outputUriPrefix": _gcs_prefix(output_config)},
        }
    else:
        raise invalid_argument(
            f"output_config.predictions_format {predictions_format!r} with "
            f"{sorted(set(output_config) - {'predictionsFormat'})} is not supported for Gemini batch prediction: use "
            "'bigquery' with bigquery_destination or 'jsonl' with gcs_destination."
        )
    return JobSpec(
        display_name=display_name,
        model=model,
        model_id=model_id,
        input_config=input_config,
        output_config=output_config,
        labels=check_labels(job.get("labels")),
        source=source,
        destination=destination,
        model_parameters=job.get("modelParameters"),
    )
