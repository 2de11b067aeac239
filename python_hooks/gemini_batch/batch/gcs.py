"""The Cloud Storage transport (`transport: gcs`): a chunk's requests go to Vertex as JSONL files and the answers come
back as JSONL, both moved by BigQuery itself (EXPORT DATA out, a load job in); no row passes through Python.

Everything else is the BigQuery transport's: the chunk's input table (written by submit.py, kept until collect as the
record of what was sent), the ledger row (input_table, output_table = the loaded table), collect.merge_output. Where a
job's files live is derived from its input table, so it is unique per chunk and submission:
    <gcs_prefix>/<input table name>/input/requests-*.jsonl     `{"request_hash": "gb-<hash>", "request": {...}}`
    <gcs_prefix>/<input table name>/output/                    gcsDestination.outputUriPrefix
Vertex writes `<outputUriPrefix>/prediction-model-<timestamp>/predictions.jsonl`, echoing each input line's other keys
next to `status`, `processed_time`, `request` and `response`
(cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-from-cloud-storage), in any order.

Each line carries its request's hash twice, and collect reads whichever comes back (collect.output_key_sql): as the
sibling key `request_hash`, prefixed `gb-` so it never looks like a number (Vertex's import infers a type per key
and is reported to turn a numeric-looking string such as "000000" into 0), and inside the request's own `labels`
(GenerateContentRequest.labels, echoed with the request), split into two labels because a label value holds at
most 63 characters. The echoed request itself is never compared with what was sent: Vertex rewrites it (keys
sorted, absent part fields added as null; ../shared/reference/vertex-output-shapes.md).
"""

from __future__ import annotations

import contextlib
import re

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1, bigquery, storage

from gemini_batch.batch.context import BQ_REQUEST_SECONDS, BQ_RETRY, QUERY_SECONDS, BatchContext
from gemini_batch.dbt_project import BatchNode

INPUT_FILES = "input/requests-*.jsonl"
OUTPUT_FOLDER = "output"
PREDICTIONS = "prediction-model-*/predictions.jsonl"
# What the load job reads of each output line; other keys are ignored (ignore_unknown_values). The same columns as a
# BigQuery-transport output table, so collect.merge_output reads both alike.
OUTPUT_SCHEMA = [
    bigquery.SchemaField("request_hash", "STRING"),
    bigquery.SchemaField("request", "JSON"),
    bigquery.SchemaField("response", "JSON"),
    bigquery.SchemaField("status", "STRING"),
    bigquery.SchemaField("processed_time", "TIMESTAMP"),
]
_WILDCARD = re.compile(r"[*?\[]")
KEY_PREFIX = "gb-"  # request_hash of a JSONL line: `gb-<hash>`, never numeric-looking
# The request labels that carry the hash: (label key, 1-based start in the 64-character hex hash, length). A label
# value is at most 63 characters (cloud.google.com/vertex-ai/generative-ai/docs/multimodal/add-labels-to-api-calls).
HASH_LABELS = (("gemini_batch_hash", 1, 32), ("gemini_batch_hash_2", 33, 32))


def job_folder(gcs_prefix: str, input_table: str) -> str:
    return f"{gcs_prefix.rstrip('/')}/{input_table.rsplit('.', 1)[-1]}"


def input_uri(gcs_prefix: str, input_table: str) -> str:
    return f"{job_folder(gcs_prefix, input_table)}/{INPUT_FILES}"


def output_prefix(gcs_prefix: str, input_table: str) -> str:
    return f"{job_folder(gcs_prefix, input_table)}/{OUTPUT_FOLDER}"


def is_gcs_job(job: aiplatform_v1.BatchPredictionJob) -> bool:
    return bool(job.output_config.gcs_destination.output_uri_prefix)


def export_requests(ctx: BatchContext, node: BatchNode, input_table: str, uri: str) -> None:
    """Write the input table as JSONL under `uri` (one `*`: BigQuery splits an export into files of at most 1 GB,
    cloud.google.com/bigquery/docs/exporting-data#export_limitations). Vertex takes at most 1 GB of input, read per
    job: submit.plan_chunks bounds a chunk by max_input_bytes_per_job and submit_chunk checks what was written.

    `request` is stored as JSON text; parse_json makes it a JSON value, which a JSON export writes as an object, as
    Vertex wants it ('round': a number that does not round-trip through a double is rounded rather than refused).
    The hash goes out as the `gb-` sibling key and in the request's labels (see the module's docstring); the labels
    are added to the copy sent, not to the request cached, so request_hash still hashes what the model built.
    """
    ctx.sql(
        f"""
        export data options (uri = '{uri}', format = 'JSON', overwrite = true) as
        select concat('{KEY_PREFIX}', request_hash) as request_hash, {sent_request_sql()} as request
        from `{input_table}`
        """,
        node=node.unique_id,
    )


def sent_request_sql(request: str = "request", request_hash: str = "request_hash") -> str:
    """The request as a JSONL line carries it: a JSON value with the hash in its labels (HASH_LABELS)."""
    sent = f"parse_json({request}, wide_number_mode => 'round')"
    for label, start, length in HASH_LABELS:  # one JSON_SET per path: the form every engine accepts
        sent = f"json_set({sent}, '$.labels.{label}', substr({request_hash}, {start}, {length}))"
    return sent


# Bytes of a JSONL line around its request: `{"request_hash":"gb-<64 hex>","request":}` and the newline, with room
# for spaces after the separators.
LINE_OVERHEAD_BYTES = 100


def line_bytes_sql(request: str, request_hash: str) -> str:
    """SQL for the bytes of one request's line in the exported JSONL, written as BigQuery writes JSON (which may escape
    characters the model's text kept raw): what Vertex's 1 GB input limit counts."""
    return f"byte_length(to_json_string({sent_request_sql(request, request_hash)})) + {LINE_OVERHEAD_BYTES:d}"


def input_config(uri: str) -> aiplatform_v1.BatchPredictionJob.InputConfig:
    return aiplatform_v1.BatchPredictionJob.InputConfig(
        instances_format="jsonl", gcs_source=aiplatform_v1.GcsSource(uris=[uri])
    )


def output_config(prefix: str) -> aiplatform_v1.BatchPredictionJob.OutputConfig:
    return aiplatform_v1.BatchPredictionJob.OutputConfig(
        predictions_format="jsonl", gcs_destination=aiplatform_v1.GcsDestination(output_uri_prefix=prefix)
    )


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, name = uri.removeprefix("gs://").partition("/")
    return bucket, name


def objects(ctx: BatchContext, prefix_uri: str) -> list[storage.Blob]:
    """The objects under a gs:// prefix; none when its bucket no longer exists (deleted by hand or by a project's
    cleanup after the job ran): the job's answers are then gone, and collect counts its requests as missing (still
    pending) instead of stopping with a traceback."""
    bucket, name = split_uri(prefix_uri)
    try:
        return list(ctx.storage().list_blobs(bucket, prefix=name, timeout=BQ_REQUEST_SECONDS))
    except gexc.NotFound:
        return []


def load_output(ctx: BatchContext, node: BatchNode, job: aiplatform_v1.BatchPredictionJob, table: str) -> bool:
    """Load the job's predictions.jsonl files into `table` (replacing it); False when the job wrote none."""
    prefix = job.output_config.gcs_destination.output_uri_prefix.rstrip("/")
    if not any(b.name.endswith("/predictions.jsonl") for b in objects(ctx, prefix + "/")):
        return False
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=OUTPUT_SCHEMA,
        ignore_unknown_values=True,
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        labels=ctx.query_defaults.config([], node=node.unique_id).labels,
    )
    load = ctx.bq.load_table_from_uri(
        f"{prefix}/{PREDICTIONS}", table, job_config=config, retry=BQ_RETRY, timeout=BQ_REQUEST_SECONDS
    )
    load.result(timeout=QUERY_SECONDS, retry=BQ_RETRY)
    return True


def input_prefix(uri: str) -> str:
    """The folder part of an input URI (up to its wildcard)."""
    return uri[: m.start()] if (m := _WILDCARD.search(uri)) else uri


def input_bytes(ctx: BatchContext, uri: str) -> int:
    """Bytes of the JSONL files an export wrote under `uri` (one listing): what Vertex will read for the job."""
    return sum(int(b.size or 0) for b in objects(ctx, input_prefix(uri)) if b.name.endswith(".jsonl"))


def delete_job_objects(ctx: BatchContext, job: aiplatform_v1.BatchPredictionJob) -> int:
    """Delete the job's input files and its output folder; returns how many objects were deleted."""
    prefixes = [input_prefix(u) for u in job.input_config.gcs_source.uris]
    prefixes.append(job.output_config.gcs_destination.output_uri_prefix.rstrip("/") + "/")
    return sum(delete_under(ctx, p) for p in prefixes if p.count("/") >= 3)  # never a whole bucket


def delete_under(ctx: BatchContext, prefix_uri: str) -> int:
    blobs = objects(ctx, prefix_uri)
    for blob in blobs:
        with contextlib.suppress(gexc.NotFound):  # another run's cleanup got there first
            blob.delete(timeout=BQ_REQUEST_SECONDS)
    return len(blobs)
