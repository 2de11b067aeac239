"""BigQuery side of a job: check the input like Vertex's import step, read it in pages, write the output.

Everything goes through google-cloud-bigquery against the --bigquery-endpoint (bqemulator locally), so the emulator
exercises the same client paths a real deployment would. Answered rows are appended with load_table_from_json and an
explicit schema, batch by batch while the job runs, so a cancelled job leaves what it finished in the table.
"""

from __future__ import annotations

import base64
import logging
import math
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from time import monotonic
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from gemini_batch.emulator.validation import BigQueryRef

RESERVED_COLUMNS = ("response", "status", "processed_time")
MULTI_REGIONS = {"us", "eu"}
UNSUPPORTED_TYPES = {
    "RECORD": "STRUCT",
    "STRUCT": "STRUCT",
    "RANGE": "RANGE",
    "DATETIME": "DATETIME",
    "GEOGRAPHY": "GEOGRAPHY",
}
OUTPUT_COLUMNS = [
    bigquery.SchemaField("response", "JSON"),
    bigquery.SchemaField("status", "STRING"),
    bigquery.SchemaField("processed_time", "TIMESTAMP"),
]
WRITE_TIMEOUT_SECONDS = 300.0
log = logging.getLogger(__name__)


class ImportFailure(Exception):
    """The job's data is unusable; the job goes FAILED with code 3 and 'Failed to import data. <message>'."""


@dataclass(frozen=True)
class InputPlan:
    table: bigquery.Table
    request_field: bigquery.SchemaField
    output_schema: list[bigquery.SchemaField]

    @property
    def num_rows(self) -> int:
        return int(self.table.num_rows or 0)


def _check_dataset(client: bigquery.Client, ref: BigQueryRef, location: str, role: str) -> None:
    """Vertex's import step: the dataset must be in the job's region and not in a multi-region.

    Vertex: "The region of the input BigQuery dataset must be the same as the Vertex AI batch prediction job"
    (cloud.google.com/vertex-ai/generative-ai/docs/model-reference/batch-prediction-api); the job then fails with code 3
    and "Failed to import data. Not found: Dataset P:D was not found in location L" (googleapis/python-aiplatform#4112).
    For a `global` job Google documents no dataset rule: the emulator assumes any single region is allowed and still
    refuses the US/EU multi-regions (the stricter reading; a real global job may accept them).
    """
    try:
        dataset = client.get_dataset(ref.dataset_id)
    except gexc.NotFound as exc:
        raise ImportFailure(
            f"Not found: Dataset {ref.project}:{ref.dataset} was not found in location {location} ({role.lower()} "
            "dataset)."
        ) from exc
    found = (dataset.location or "US").lower()
    if found in MULTI_REGIONS:
        raise ImportFailure(
            f"{role} dataset {ref.project}:{ref.dataset} is in multi-region {dataset.location}; batch "
            f"prediction needs a dataset in the job's region {location}."
        )
    if location != "global" and found != location.lower():
        raise ImportFailure(
            f"Not found: Dataset {ref.project}:{ref.dataset} was not found in location {location}. {role} dataset "
            f"{ref.project}:{ref.dataset} is in {dataset.location}; the job, the input and the output must be in the "
            "same region."
        )


def inspect_input(client: bigquery.Client, source: BigQueryRef, location: str, max_rows: int) -> InputPlan:
    """Check the input table as Vertex's import does; raise ImportFailure with the reason."""
    _check_dataset(client, source, location, "Input")
    try:
        table = client.get_table(source.table_id)
    except gexc.NotFound as exc:
        raise ImportFailure(
            f"Table {source.project}:{source.dataset}.{source.table} not found in location {location}."
        ) from exc
    if table.table_type not in (None, "TABLE"):
        raise ImportFailure(f"{source.uri} is a {table.table_type}; batch prediction reads tables only.")
    request_field = None
    for column in table.schema:
        name = column.name.lower()
        if name in RESERVED_COLUMNS:
            raise ImportFailure(
                f"The input table has a column named `{column.name}`, which is reserved for the output "
                f"({', '.join(RESERVED_COLUMNS)}). Rename it."
            )
        if name == "request":
            if column.field_type not in ("STRING", "JSON") or column.mode == "REPEATED":
                raise ImportFailure(
                    f"The `request` column must be STRING or JSON, not {column.field_type} ({column.mode})."
                )
            request_field = column
            continue
        kind = "ARRAY" if column.mode == "REPEATED" else UNSUPPORTED_TYPES.get(column.field_type)
        if kind:
            raise ImportFailure(
                f"Column `{column.name}` has type {kind}, which is not supported in batch prediction input "
                "(ARRAY, STRUCT, RANGE, DATETIME and GEOGRAPHY columns cannot be passed through)."
            )
    if request_field is None:
        raise ImportFailure("The input table has no `request` column holding the GenerateContentRequest.")
    if int(table.num_rows or 0) > max_rows:
        raise ImportFailure(
            f"The input table has {table.num_rows} rows; a batch job takes at most {max_rows} requests."
        )
    output_schema = [bigquery.SchemaField(c.name, c.field_type, mode=c.mode) for c in table.schema] + OUTPUT_COLUMNS
    return InputPlan(table=table, request_field=request_field, output_schema=output_schema)


def prepare_output(
    client: bigquery.Client,
    destination: BigQueryRef,
    location: str,
    schema: list[bigquery.SchemaField],
    append: bool,
) -> None:
    """Check the output dataset and create the output table (or, with `append`, reuse an existing one)."""
    _check_dataset(client, destination, location, "Output")
    table = bigquery.Table(destination.table_id, schema=schema)
    try:
        client.create_table(table)
    except gexc.Conflict as exc:
        if not append:
            raise ImportFailure(
                f"Output table {destination.uri} already exists; use a new table name for each job "
                "(or an output URI naming only the dataset)."
            ) from exc


def iter_pages(client: bigquery.Client, table: bigquery.Table, page_rows: int) -> Iterator[list[dict[str, Any]]]:
    """The input rows, one page (list of column->value dicts) at a time, so memory stays flat."""
    for page in client.list_rows(table, page_size=page_rows).pages:
        yield [dict(row.items()) for row in page]


def to_json_value(field_type: str, value: Any) -> Any:
    """A value read by list_rows, as the JSON that a load job writes back into the same column type."""
    if value is None:
        return None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if field_type == "INTERVAL":
        return str(value)
    return value


class RowWriter(Protocol):
    """Where answered rows go: an OutputWriter (BigQuery table) or gcs_io.JsonlOutputWriter (predictions.jsonl)."""

    def write(self, rows: list[dict[str, Any]]) -> None: ...


class OutputWriter:
    """Appends answered chunks to the output table with one load job each."""

    def __init__(self, client: bigquery.Client, destination: BigQueryRef, schema: list[bigquery.SchemaField]) -> None:
        self.client = client
        self.destination = destination
        self.schema = schema
        self.types = {f.name: f.field_type for f in schema}
        self.rows_written = 0

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        payload = [{k: to_json_value(self.types.get(k, "STRING"), v) for k, v in row.items()} for row in rows]
        config = bigquery.LoadJobConfig(
            schema=self.schema,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        )
        started = monotonic()
        self.client.load_table_from_json(payload, self.destination.table_id, job_config=config).result(
            timeout=WRITE_TIMEOUT_SECONDS
        )
        self.rows_written += len(rows)
        log.debug("wrote %d rows to %s in %.2fs", len(rows), self.destination.uri, monotonic() - started)


class BackgroundWriter:
    """Runs an OutputWriter in its own thread and batches chunks into fewer, larger loads.

    Answered chunks queue up while a load runs, so loads overlap with answering. A batch is written once it holds
    `batch_rows` rows or its first rows have waited `interval_seconds`, whichever comes first: small jobs and slow
    responders still show rows within about a second, while big jobs make few loads. That matters on bqemulator, where
    every write copies the whole table into a time-travel snapshot (and blocks reads meanwhile), so many small appends
    cost quadratic time and memory. `close` writes everything queued before it returns, so a job reaches its final
    state only once every answered row is in the table. A failed load is re-raised on the next `put` or on `close`.
    """

    def __init__(self, writer: RowWriter, chunk_rows: int, batch_rows: int, interval_seconds: float) -> None:
        self.writer = writer
        self.batch_rows = max(1, batch_rows)
        self.interval_seconds = interval_seconds
        self._queue: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=max(2, batch_rows // chunk_rows))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="output-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        batch: list[dict[str, Any]] = []
        since = 0.0
        closing = False
        while not closing:
            timeout = max(0.0, self.interval_seconds - (monotonic() - since)) if batch else None
            try:
                rows = self._queue.get(timeout=timeout)
            except queue.Empty:
                rows = []
            if rows is None:
                closing = True
            elif rows:
                if not batch:
                    since = monotonic()
                batch.extend(rows)
            due = closing or len(batch) >= self.batch_rows or monotonic() - since >= self.interval_seconds
            if batch and due:
                if self._error is None:
                    try:
                        self.writer.write(batch)
                    except BaseException as exc:  # surfaced to the job thread by put/close
                        self._error = exc
                batch = []

    def put(self, rows: list[dict[str, Any]]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(rows)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
