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

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from gemini_batch.emulator import bigquery_io
from gemini_batch.emulator.bigquery_io import BackgroundWriter, ImportFailure, OutputWriter
from gemini_batch.emulator.clock import now_rfc3339, parse_rfc3339, utcnow
from gemini_batch.emulator.config import INJECTABLE_ROW_CODES, EmulatorConfig
from gemini_batch.emulator.errors import RPC_NAME_BY_NUMBER, rpc_status
from gemini_batch.emulator.faults import job_fails, row_fails
from gemini_batch.emulator.request_check import BadRequest, check_request, request_key
from gemini_batch.emulator.responders import Responder, RowError, make_responder
from gemini_batch.emulator.store import JobStore, StoredJob
from gemini_batch.emulator.validation import BigQueryRef, parse_destination_uri, parse_table_uri
from gemini_batch.local.clients import local_bigquery_client

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
        self, store: JobStore, config: Callable[[], EmulatorConfig], bigquery_endpoint: str, project: str
    ) -> None:
        self.store = store
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
                table = job.resource.get("outputInfo", {}).get("bigqueryOutputTable", "the output table")
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
        source = parse_table_uri(resource["inputConfig"]["bigquerySource"]["inputUri"])
        destination = parse_destination_uri(resource["outputConfig"]["bigqueryDestination"]["outputUri"])
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
        client = local_bigquery_client(self.bigquery_endpoint, self.project, job.location)
        try:
            plan = bigquery_io.inspect_input(client, source, job.location, config.max_input_rows)
            if destination.table is None:
                destination = destination.with_table(predictions_table_name(utcnow(), job_id))
            bigquery_io.prepare_output(
                client,
                destination,
                job.location,
                plan.output_schema,
                append=config.existing_output_table == "append",
            )
        except ImportFailure as exc:
            self._finish(job_id, FAILED, {"error": rpc_status("INVALID_ARGUMENT", f"Failed to import data. {exc}")})
            return
        reported_table = destination.uri if config.output_table_format == "uri" else str(destination.table)
        self.store.update(
            job_id,
            {
                "outputInfo": {
                    "bigqueryOutputDataset": f"bq://{destination.dataset_id}",
                    "bigqueryOutputTable": reported_table,
                }
            },
        )
        responder = make_responder(config)
        try:
            done, failed, cancelled = self._answer_all(job, config, client, plan, destination, model_id, responder)
        finally:
            responder.close()
        stats = completion_stats(done, failed, max(0, plan.num_rows - done - failed))
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

    def _answer_all(
        self,
        job: StoredJob,
        config: EmulatorConfig,
        client: Any,
        plan: bigquery_io.InputPlan,
        destination: BigQueryRef,
        model_id: str,
        responder: Responder,
    ) -> tuple[int, int, bool]:
        """Answer every row, writing one chunk at a time. Returns (successful, failed, cancelled)."""
        output = OutputWriter(client, destination, plan.output_schema)
        writer = BackgroundWriter(output, config.chunk_rows, config.write_batch_rows, config.write_interval_seconds)
        request_column = plan.request_field.name
        successful = failed = 0
        pool = ThreadPoolExecutor(responder.concurrency) if responder.concurrency > 1 else None

        def answer(row: dict[str, Any]) -> dict[str, Any] | None:
            if self._interrupted(job.job_id, config.per_row_latency_seconds):
                return None
            return {**row, **self._answer_row(row.get(request_column), config, model_id, responder)}

        try:
            for page in bigquery_io.iter_pages(client, plan.table, config.chunk_rows):
                answered = list(pool.map(answer, page)) if pool else [answer(row) for row in page]
                rows = [r for r in answered if r is not None]
                writer.put(rows)
                failed += sum(1 for r in rows if r["status"])
                successful += sum(1 for r in rows if not r["status"])
                if len(rows) < len(page) or self._interrupted(job.job_id):
                    return successful, failed, True
        finally:
            if pool:
                pool.shutdown(wait=True, cancel_futures=True)
            writer.close()  # every answered row is in the table before the job reaches a final state
        return successful, failed, False

    @staticmethod
    def _answer_row(raw: Any, config: EmulatorConfig, model_id: str, responder: Responder) -> dict[str, Any]:
        # A failed row's response is an empty JSON object, not NULL, as Vertex writes it (see the README's emulator
        # section); readers tell answers from failures by `status`.
        response: dict[str, Any] = {}
        try:
            checked = check_request(raw)
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
