"""Run one batch job in a background thread: PENDING (QUEUED) -> RUNNING -> SUCCEEDED / FAILED / CANCELLED, or EXPIRED.

The steps mirror Vertex: wait in the queue, start, check the input ("Failed to import data. ..." fails the job
with code 3), create the output table, answer the rows chunk by chunk and append each chunk to the output
table, then record completionStats. A cancel is noticed between rows; the rows answered so far are written
before the job becomes CANCELLED, so the output keeps everything already done (Vertex: "files already
outputted are not deleted").

Stopping the emulator leaves running jobs as they are on disk; `resume` turns them into FAILED on the next
start (a RUNNING job cannot be resumed half way without duplicating rows) and re-queues jobs that were still
PENDING.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

from gemini_batch.emulator import bigquery_io, gcs_io
from gemini_batch.emulator.bigquery_io import BackgroundWriter, ImportFailure, OutputWriter
from gemini_batch.emulator.clock import now_rfc3339, parse_rfc3339, utcnow
from gemini_batch.emulator.config import INJECTABLE_ROW_CODES, EmulatorConfig
from gemini_batch.emulator.echo import Echo
from gemini_batch.emulator.errors import RPC_NAME_BY_NUMBER, rpc_status
from gemini_batch.emulator.faults import job_fails, row_dropped, row_fails
from gemini_batch.emulator.request_check import BadRequest, CheckedRequest, check_request, request_key
from gemini_batch.emulator.responders import Responder, RowError, make_responder
from gemini_batch.emulator.store import JobStore, StoredJob
from gemini_batch.emulator.validation import parse_destination_uri, parse_gcs_uri, parse_table_uri
from gemini_batch.local.clients import local_bigquery_client, local_storage_client

log = logging.getLogger(__name__)

PENDING, QUEUED, RUNNING = "JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING"
SUCCEEDED, FAILED, EXPIRED = "JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_EXPIRED"
CANCELLING, CANCELLED = "JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED"
WAITING = (PENDING, QUEUED)
_INJECTED_ROW_MESSAGES = {
    400: "Request contains an invalid argument (injected).",
    429: "Resource exhausted. Please try again later (injected).",
    500: "Internal error encountered (injected).",
    503: "The model is overloaded. Please try again later (injected).",
}


class _Source(Protocol):
    num_rows: int

    def iter_pages(self, page_rows: int) -> Iterator[list[dict[str, Any]]]: ...

    def split(self, row: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """(the row's request, the other fields)."""
        ...

    def learn(self, echo: Echo, row: dict[str, Any]) -> None:
        """Add the row to what the echo knows of the whole input (the union of its fields)."""
        ...

    def output_row(self, row: dict[str, Any], result: dict[str, Any], echo: Echo) -> dict[str, Any]:
        """The output row of an answered input row (result: response, status, processed_time)."""
        ...

    def close(self) -> None: ...


class _Sink(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...


class _TableSource:
    """A BigQuery input table."""

    def __init__(self, client: Any, plan: bigquery_io.InputPlan) -> None:
        self.client, self.plan, self.num_rows = client, plan, plan.num_rows

    def iter_pages(self, page_rows: int) -> Iterator[list[dict[str, Any]]]:
        return bigquery_io.iter_pages(self.client, self.plan.table, page_rows)

    def split(self, row: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        column = self.plan.request_field.name
        return row.get(column), {k: bigquery_io.to_json_value("", v) for k, v in row.items() if k != column}

    def learn(self, echo: Echo, row: dict[str, Any]) -> None:
        echo.add(row.get(self.plan.request_field.name))

    def output_row(self, row: dict[str, Any], result: dict[str, Any], echo: Echo) -> dict[str, Any]:
        """The input row's columns (`request` echoed), then response, status and processed_time. A failed row's
        response is NULL in Vertex's form, `{}` verbatim (what the emulator wrote before the echo setting)."""
        field = self.plan.request_field
        out = {**row, **result, field.name: echo.request(row.get(field.name), as_text=field.field_type == "STRING")}
        if result["status"]:
            out["response"] = None if echo.vertex else {}
        else:
            out["response"] = echo.response(result["response"])
        return out

    def close(self) -> None:
        return None


class _JsonlSource:
    """JSONL lines from Cloud Storage: `request` plus any other keys, which are echoed back."""

    def __init__(self, data: gcs_io.JsonlInput) -> None:
        self.data, self.num_rows = data, data.num_rows

    def iter_pages(self, page_rows: int) -> Iterator[list[dict[str, Any]]]:
        return self.data.iter_pages(page_rows)

    def split(self, row: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return row.get("request"), {k: v for k, v in row.items() if k != "request"}

    def learn(self, echo: Echo, row: dict[str, Any]) -> None:
        request, extra = self.split(row)
        echo.add(request, extra)

    def output_row(self, row: dict[str, Any], result: dict[str, Any], echo: Echo) -> dict[str, Any]:
        """A JSONL line. Vertex's form: status, processed_time, request, response (absent on a failed line), then the
        input's other keys; verbatim: the other keys first and `response: {}` on a failed line."""
        request, extra = self.split(row)
        line = {
            "status": result["status"],
            "processed_time": gcs_io.processed_time(result["processed_time"]),
            "request": echo.request(request, as_text=False),
        }
        if not echo.vertex:
            return {**extra, **line, "response": result["response"]}
        if not result["status"]:
            line["response"] = echo.response(result["response"])
        return {**line, **echo.siblings(extra)}

    def close(self) -> None:
        self.data.close()


def _with_files(checked: CheckedRequest, files: gcs_io.ObjectLookup) -> CheckedRequest:
    """Attach the metadata of every gs:// object the request's fileData parts name; a missing object fails the row.

    Vertex reads each fileData object when it answers the row, so a missing one is a failed row, not a failed job.
    Google's exact message for it is not in the reference; this one names the URI and says what to check.
    """
    found = []
    for content in checked.body.get("contents", []):
        for part in content.get("parts", []):
            uri = (part.get("fileData") or {}).get("fileUri")
            if isinstance(uri, str) and uri.startswith("gs://"):
                info = files.get(uri)
                if info is None:
                    raise BadRequest(
                        f"The file {uri} does not exist or the Vertex AI service agent cannot read it. Check the "
                        "fileData.fileUri and the bucket's permissions."
                    )
                found.append(info)
    return dataclasses.replace(checked, files=tuple(found)) if found else checked


class _Stop(Exception):
    """The emulator is shutting down: leave the job as it is."""


def predictions_table_name(moment: datetime, job_id: str) -> str:
    """Vertex names the table it creates in an output dataset predictions_<UTC timestamp>_<suffix>."""
    stamp = moment.astimezone(UTC).strftime("%Y_%m_%dT%H_%M_%S_%f")[:-3]
    return f"predictions_{stamp}Z_{job_id[-3:]}"


def completion_stats(successful: int, failed: int, incomplete: int) -> dict[str, str]:
    # int64 fields travel as JSON strings in Google REST APIs.
    return {
        "successfulCount": str(successful),
        "failedCount": str(failed),
        "incompleteCount": str(incomplete),
    }


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        config: Callable[[], EmulatorConfig],
        bigquery_endpoint: str,
        project: str,
        storage_endpoint: str | None = None,
    ) -> None:
        self.store = store
        self.storage_endpoint = storage_endpoint
        self.config = config
        self.bigquery_endpoint = bigquery_endpoint
        self.project = project
        self._cancel: dict[str, threading.Event] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._stopping = threading.Event()
        self._slots = threading.Condition()
        self._running = 0

    # -- control ---------------------------------------------------------------------------------------------
    def start(self, job_id: str) -> None:
        self._cancel[job_id] = threading.Event()
        thread = threading.Thread(target=self._run, args=(job_id,), name=f"job-{job_id}", daemon=True)
        self._threads[job_id] = thread
        thread.start()

    def cancel(self, job_id: str) -> None:
        event = self._cancel.get(job_id)
        if event is not None:
            event.set()

    def cancel_all_and_wait(self, timeout: float = 10.0) -> None:
        """Cancel every job and wait (up to `timeout` in all) for their threads to end, so that none writes an output
        table or a state after this returns (/emulator/reset: a test then starts from no job at all)."""
        for event in list(self._cancel.values()):
            event.set()
        with self._slots:
            self._slots.notify_all()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop all job threads without changing their recorded state (a restart sorts them out)."""
        self._stopping.set()
        for event in list(self._cancel.values()):
            event.set()
        with self._slots:
            self._slots.notify_all()
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def resume(self, jobs: list[StoredJob]) -> None:
        """After a restart: re-queue PENDING jobs, fail RUNNING ones, finish CANCELLING ones as CANCELLED."""
        for job in jobs:
            if job.state in WAITING:
                self.start(job.job_id)
            elif job.state == RUNNING:
                info = job.resource.get("outputInfo", {})
                table = info.get("bigqueryOutputTable") or info.get("gcsOutputDirectory") or "the output table"
                self.store.update(
                    job.job_id,
                    {
                        "state": FAILED,
                        "endTime": now_rfc3339(),
                        "error": rpc_status(
                            "INTERNAL",
                            "The local Vertex AI emulator restarted while this job was running; the job "
                            "cannot resume. "
                            f"Rows written before the restart remain in {table}.",
                        ),
                    },
                )
            elif job.state == CANCELLING:
                self.store.update(
                    job.job_id,
                    {
                        "state": CANCELLED,
                        "endTime": now_rfc3339(),
                        "error": rpc_status("CANCELLED", "CANCELED"),
                    },
                )

    # -- helpers ---------------------------------------------------------------------------------------------
    def _interrupted(self, job_id: str, seconds: float = 0.0) -> bool:
        """Wait `seconds` (0: just look); True when the job was cancelled. Raises _Stop on shutdown."""
        event = self._cancel[job_id]
        hit = event.wait(seconds) if seconds > 0 else event.is_set()
        if self._stopping.is_set():
            raise _Stop
        return hit

    def _wait_in_queue(self, job_id: str, config: EmulatorConfig, deadline: float) -> str:
        """Wait queue_delay, then for a free slot: "started", "cancelled" or "expired" (still waiting at deadline)."""
        if self._interrupted(job_id, min(config.queue_delay_seconds, max(0.0, deadline - time.time()))):
            return "cancelled"
        with self._slots:
            while self._running >= self.config().max_concurrent_jobs or time.time() >= deadline:
                if self._interrupted(job_id):
                    return "cancelled"
                if time.time() >= deadline:
                    return "expired"
                if self.config().waiting_state == "QUEUED":
                    self.store.update(job_id, {"state": QUEUED}, when=lambda j: j.state == PENDING)
                self._slots.wait(min(0.1, max(0.001, deadline - time.time())))
            self._running += 1
            return "started"

    def _release_slot(self) -> None:
        with self._slots:
            self._running -= 1
            self._slots.notify_all()

    def _finish(self, job_id: str, state: str, extra: dict[str, Any]) -> None:
        self.store.update(job_id, {"state": state, "endTime": now_rfc3339(), **extra})
        log.info("job %s -> %s", job_id, state)

    # -- the job ---------------------------------------------------------------------------------------------
    def _run(self, job_id: str) -> None:
        try:
            self._lifecycle(job_id)
        except _Stop:
            log.info("job %s left as it is: the emulator is stopping", job_id)
        except Exception as exc:  # a bug or an unreachable BigQuery must not leave a job RUNNING forever
            log.exception("job %s failed inside the emulator", job_id)
            self._finish(
                job_id,
                FAILED,
                {"error": rpc_status("INTERNAL", f"Internal error in the local emulator: {exc}")},
            )
        finally:
            self._threads.pop(job_id, None)

    def _lifecycle(self, job_id: str) -> None:
        config = self.config()
        created = parse_rfc3339(self.store.get(job_id).resource["createTime"])
        outcome = self._wait_in_queue(job_id, config, created.timestamp() + config.max_queue_seconds)
        if outcome == "cancelled":
            self._finish(job_id, CANCELLED, {"error": rpc_status("CANCELLED", "CANCELED")})
            return
        if outcome == "expired":
            # Vertex: a Gemini batch job that waits in the queue for 72 hours ends JOB_STATE_EXPIRED. The error it
            # carries then is not in Google's reference; this one says what happened.
            hours = config.max_queue_seconds / 3600
            self._finish(
                job_id,
                EXPIRED,
                {
                    "error": rpc_status(
                        "DEADLINE_EXCEEDED",
                        f"The batch prediction job expired: it waited in the queue for {hours:g} hours without "
                        "capacity to start. Submit it again.",
                    )
                },
            )
            return
        try:
            started = self.store.update(
                job_id, {"state": RUNNING, "startTime": now_rfc3339()}, when=lambda j: j.state in WAITING
            )
            if started is None:
                self._finish(job_id, CANCELLED, {"error": rpc_status("CANCELLED", "CANCELED")})
                return
            log.info("job %s -> RUNNING", job_id)
            self._execute(started, config)
        finally:
            self._release_slot()

    def _execute(self, job: StoredJob, config: EmulatorConfig) -> None:
        job_id, resource = job.job_id, job.resource
        model_id = resource["model"].rsplit("/", 1)[-1]  # validated at create: the publisher or tuned model's id
        if self._interrupted(job_id, config.run_delay_seconds):
            self._finish(job_id, CANCELLED, {"error": rpc_status("CANCELLED", "CANCELED")})
            return
        if job_fails(resource.get("displayName", ""), config):
            name = RPC_NAME_BY_NUMBER.get(config.fail_jobs_code, "INTERNAL")
            self._finish(
                job_id,
                FAILED,
                {"error": rpc_status(name, "Internal error occurred (injected by fail_jobs).")},
            )
            return
        storage_client = local_storage_client(self.storage_endpoint, self.project) if self.storage_endpoint else None
        try:
            source, sink, output_info = self._open(job, config, storage_client)
        except ImportFailure as exc:
            self._finish(job_id, FAILED, {"error": rpc_status("INVALID_ARGUMENT", f"Failed to import data. {exc}")})
            return
        self.store.update(job_id, {"outputInfo": output_info})
        echo = Echo(config.echo)
        responder = make_responder(config)
        files = gcs_io.ObjectLookup(storage_client) if storage_client else None
        try:
            if echo.vertex:  # the union of the input's fields, as Vertex's import infers it, before any row is written
                for page in source.iter_pages(config.chunk_rows):
                    for row in page:
                        source.learn(echo, row)
            done, failed, cancelled = self._answer_all(job, config, source, sink, model_id, responder, files, echo)
        finally:
            responder.close()
            source.close()
        stats = completion_stats(done, failed, max(0, source.num_rows - done - failed))
        if not cancelled:
            finished = self.store.update(
                job_id,
                {"state": SUCCEEDED, "endTime": now_rfc3339(), "completionStats": stats},
                when=lambda j: j.state == RUNNING,
            )
            if finished is not None:
                log.info("job %s -> SUCCEEDED (%d ok, %d failed)", job_id, done, failed)
                return
        self._finish(job_id, CANCELLED, {"completionStats": stats, "error": rpc_status("CANCELLED", "CANCELED")})

    def _open(
        self, job: StoredJob, config: EmulatorConfig, storage_client: Any
    ) -> tuple[_Source, _Sink, dict[str, str]]:
        """Vertex's import step: check the input and the output place; raise ImportFailure with the reason."""
        inputs, outputs = job.resource["inputConfig"], job.resource["outputConfig"]
        needs_storage = "gcsSource" in inputs or "gcsDestination" in outputs
        if needs_storage and storage_client is None:
            raise ImportFailure(
                "Cloud Storage is not reachable: start the emulator with --storage-endpoint (dbt-gemini-batch local up "
                "does) to use gcs_source or gcs_destination."
            )
        bq_client = local_bigquery_client(self.bigquery_endpoint, self.project, job.location)
        source: _Source
        if "gcsSource" in inputs:
            source = _JsonlSource(
                gcs_io.import_jsonl(
                    storage_client, inputs["gcsSource"]["uris"], config.max_input_rows, config.max_input_file_bytes
                )
            )
        else:
            plan = bigquery_io.inspect_input(
                bq_client, parse_table_uri(inputs["bigquerySource"]["inputUri"]), job.location, config.max_input_rows
            )
            source = _TableSource(bq_client, plan)
        try:
            if "gcsDestination" in outputs:
                prefix = parse_gcs_uri(outputs["gcsDestination"]["outputUriPrefix"], "outputUriPrefix")
                directory = gcs_io.prediction_directory(prefix, utcnow())
                writer = gcs_io.JsonlOutputWriter(storage_client, directory)
                writer.check_bucket()
                return source, writer, {"gcsOutputDirectory": directory.uri}
            assert isinstance(source, _TableSource)  # validate_create refuses JSONL in, BigQuery out
            destination = parse_destination_uri(outputs["bigqueryDestination"]["outputUri"])
            if destination.table is None:
                destination = destination.with_table(predictions_table_name(utcnow(), job.job_id))
            bigquery_io.prepare_output(
                bq_client,
                destination,
                job.location,
                source.plan.output_schema,
                append=config.existing_output_table == "append",
            )
        except BaseException:
            source.close()
            raise
        reported_table = destination.uri if config.output_table_format == "uri" else str(destination.table)
        info = {"bigqueryOutputDataset": f"bq://{destination.dataset_id}", "bigqueryOutputTable": reported_table}
        return source, OutputWriter(bq_client, destination, source.plan.output_schema), info

    def _answer_all(
        self,
        job: StoredJob,
        config: EmulatorConfig,
        source: _Source,
        sink: _Sink,
        model_id: str,
        responder: Responder,
        files: gcs_io.ObjectLookup | None,
        echo: Echo,
    ) -> tuple[int, int, bool]:
        """Answer every row, writing one chunk at a time. Returns (successful, failed, cancelled)."""
        writer = BackgroundWriter(sink, config.chunk_rows, config.write_batch_rows, config.write_interval_seconds)
        successful = failed = 0
        pool = ThreadPoolExecutor(responder.concurrency) if responder.concurrency > 1 else None

        dropped: dict[str, Any] = {}  # sentinel of a row the drop_rows_rate fault leaves out

        def answer(row: dict[str, Any]) -> dict[str, Any] | None:
            if self._interrupted(job.job_id, config.per_row_latency_seconds):
                return None
            request, _ = source.split(row)
            if config.drop_rows_rate and row_dropped(request_key(request), config):
                return dropped  # the drop_rows_rate fault: left out of the output, the job still succeeds
            result = self._answer_row(request, config, model_id, responder, files)
            return source.output_row(row, result, echo)

        try:
            for number, page in enumerate(source.iter_pages(config.chunk_rows)):
                answered = list(pool.map(answer, page)) if pool else [answer(row) for row in page]
                rows = [r for r in answered if r is not None and r is not dropped]
                writer.put(echo.order(rows, f"{config.seed}:{job.job_id}:{number}"))
                failed += sum(1 for r in rows if r["status"])
                successful += sum(1 for r in rows if not r["status"])
                if any(r is None for r in answered) or self._interrupted(job.job_id):
                    return successful, failed, True
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
            writer.close()  # every answered row is in the table before the job reaches a final state
            if isinstance(sink, gcs_io.JsonlOutputWriter):
                sink.finish()
        return successful, failed, False

    @staticmethod
    def _answer_row(
        raw: Any,
        config: EmulatorConfig,
        model_id: str,
        responder: Responder,
        files: gcs_io.ObjectLookup | None = None,
    ) -> dict[str, Any]:
        # A failed row's response: _Source.output_row writes it as the echo setting says; readers tell answers from
        # failures by `status`.
        response: dict[str, Any] = {}
        try:
            checked = check_request(raw)
            if files is not None:
                checked = _with_files(checked, files)
            if config.row_failure_rate and row_fails(request_key(raw), config):
                code = config.row_failure_code
                raise RowError(code, _INJECTED_ROW_MESSAGES.get(code, INJECTABLE_ROW_CODES[code]))
            response = responder.answer(checked, model_id)
            status = ""
        except BadRequest as exc:
            status = RowError(400, str(exc)).status_text()
        except RowError as exc:
            status = exc.status_text()
        return {"response": response, "status": status, "processed_time": utcnow()}
