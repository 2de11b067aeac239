"""Submit, wait for and collect the Vertex AI batch jobs of one gemini_batch model.

The steps for a model `m` (see DESIGN.md, "The Python post-hook"):
  1. finish what an earlier run left: jobs in the ledger that were never collected are resumed, not resubmitted;
  2. count pending request hashes (never answered successfully, attempts below max_attempts; identical requests once);
  3. write job input tables of at most max_requests_per_job rows (request_hash + request only) and submit one job each;
  4. poll with backoff, reporting state and elapsed time;
  5. merge each output table into m__responses (a success is never overwritten; a failure keeps its status and counts an
     attempt), update the ledger (state, counts, tokens) and drop the per-job tables unless keep_job_tables.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import SUBMITTING, Ledger, LedgerEntry
from gemini_batch.progress import Progress
from gemini_batch.settings import BatchSettings

JobState = aiplatform_v1.JobState
TERMINAL_STATES = {
    "JOB_STATE_SUCCEEDED",
    "JOB_STATE_PARTIALLY_SUCCEEDED",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_EXPIRED",
}
SUCCESS_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"}
# API errors worth retrying: quota and transient server trouble.
TRANSIENT = (
    gexc.TooManyRequests,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.GatewayTimeout,
    gexc.DeadlineExceeded,
    ConnectionError,
)


class BatchError(RuntimeError):
    """A model's batch could not complete; the message names the model and what to do."""


@dataclass
class NodeOutcome:
    node: str
    submitted_requests: int = 0
    jobs: list[str] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    exhausted: int = 0  # requests that failed max_attempts times and are no longer sent
    still_running: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def label_value(text: str) -> str:
    """A Vertex label value: lower case letters, digits, `_` and `-`, at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]


def _table_id(uri_or_id: str) -> str:
    return uri_or_id.removeprefix("bq://")


class BatchRunner:
    """Runs the batch steps for gemini_batch models with one BigQuery client, one ledger and one progress reporter."""

    def __init__(
        self,
        bq: bigquery.Client,
        ledger: Ledger,
        job_client_factory: Callable[[BatchSettings, str], aiplatform_v1.JobServiceClient],
        default_location: str,
        invocation_id: str | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bq = bq
        self.ledger = ledger
        self._job_client_factory = job_client_factory
        self._job_clients: dict[tuple[str | None, str], aiplatform_v1.JobServiceClient] = {}
        self.default_location = default_location
        self.invocation_id = invocation_id or uuid.uuid4().hex
        self.progress = progress or Progress()
        self.sleep = sleep

    # -- plumbing ----------------------------------------------------------------------------------------------
    def _location(self, settings: BatchSettings) -> str:
        return settings.vertex_location or self.default_location

    def _jobs(self, settings: BatchSettings) -> aiplatform_v1.JobServiceClient:
        location = self._location(settings)
        key = (settings.vertex_endpoint, location)
        if key not in self._job_clients:
            self._job_clients[key] = self._job_client_factory(settings, location)
        return self._job_clients[key]

    def _sql(self, sql: str, **params: Any) -> list[bigquery.Row]:
        qparams = [
            bigquery.ScalarQueryParameter(name, "INT64" if isinstance(v, int) else "STRING", v)
            for name, v in params.items()
        ]
        job = self.bq.query(sql, job_config=bigquery.QueryJobConfig(query_parameters=qparams))
        return list(job.result(timeout=3600))

    # -- the whole cycle for one model -------------------------------------------------------------------------
    def process(self, node: BatchNode, settings: BatchSettings, wait: bool = True) -> NodeOutcome:
        """Resume, submit, and (when wait) poll and collect every job of one model."""
        outcome = NodeOutcome(node=node.name)
        if self.collect_open(node, settings, outcome, wait) and outcome.still_running:
            return outcome  # --no-wait with jobs still in flight: never submit the same rows again
        entries = self.submit(node, settings, outcome)
        if entries:
            self.finish_jobs(node, settings, entries, outcome, wait)
        return outcome

    def collect_open(self, node: BatchNode, settings: BatchSettings, outcome: NodeOutcome, wait: bool) -> int:
        """Finish what earlier runs left: jobs in the ledger not yet collected. Returns how many there were."""
        open_jobs = self.ledger.uncollected(node.unique_id)
        if open_jobs:
            self.progress.say(f"{node.name}: {len(open_jobs)} job(s) from an earlier run not collected yet, resuming")
            self.finish_jobs(node, settings, open_jobs, outcome, wait)
        return len(open_jobs)

    def finish_jobs(
        self,
        node: BatchNode,
        settings: BatchSettings,
        entries: list[LedgerEntry],
        outcome: NodeOutcome,
        wait: bool,
    ) -> None:
        for entry in entries:
            if entry.state == SUBMITTING:
                self._recover_submitting(node, settings, entry)
        jobs = [e for e in entries if e.job_name]
        states = self.wait(node, settings, jobs) if wait else {e.job_name: self.get_job(settings, e) for e in jobs}
        for entry in jobs:
            job = states[entry.job_name]
            state = job.state.name
            if state not in TERMINAL_STATES:
                outcome.still_running.append(entry.job_name or "")
                self.ledger.update(entry, state=state)
                continue
            self.collect(node, settings, entry, job, outcome)

    # -- step 2 + 3: pending hashes, input tables, job creation ------------------------------------------------
    def pending_counts(self, node: BatchNode, settings: BatchSettings) -> tuple[int, int]:
        """(pending request hashes, hashes given up after max_attempts failures)."""
        rows = self._sql(
            f"""
            select
                count(distinct if(responses.request_hash is null
                    or (responses.status != '' and coalesce(responses.attempts, 0) < @max_attempts),
                    requests.request_hash, null)) as pending,
                count(distinct if(responses.status != '' and coalesce(responses.attempts, 0) >= @max_attempts,
                    requests.request_hash, null)) as exhausted
            from `{node.requests_table}` as requests
            left join `{node.responses_table}` as responses
                on requests.request_hash = responses.request_hash
            """,
            max_attempts=settings.max_attempts,
        )
        return int(rows[0]["pending"]), int(rows[0]["exhausted"])

    def submit(self, node: BatchNode, settings: BatchSettings, outcome: NodeOutcome) -> list[LedgerEntry]:
        pending, exhausted = self.pending_counts(node, settings)
        outcome.exhausted = exhausted
        if exhausted:
            self.progress.say(
                f"{node.name}: {exhausted} request(s) failed {settings.max_attempts} times and are not sent again "
                f"(see status in {node.alias}; raise max_attempts to retry them)"
            )
        if pending == 0:
            self.progress.say(f"{node.name}: 0 requests pending, nothing to submit")
            return []
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        prefix = f"{node.alias}__batch_{stamp}_{uuid.uuid4().hex[:6]}"
        chunks = -(-pending // settings.max_requests_per_job)
        self.progress.say(
            f"{node.name}: {pending} request(s) pending -> {chunks} batch job(s) on {settings.gemini_model}"
        )
        staging = f"{node.dataset}.{prefix}_pending"
        self._sql(
            f"""
            create table `{staging}` as
            select
                request_hash,
                request,
                -- floor(x / n) rather than div(x, n): bqemulator 1.4 evaluates DIV over a window wrongly.
                cast(floor((row_number() over (order by request_hash) - 1) / @chunk_rows) as int64) as chunk
            from (
                select requests.request_hash, any_value(requests.request) as request
                from `{node.requests_table}` as requests
                left join `{node.responses_table}` as responses
                    on requests.request_hash = responses.request_hash
                -- a NULL hash means a NULL request, which the materialization's check stops; never send one
                where requests.request_hash is not null
                    and (
                        responses.request_hash is null
                        or (responses.status != '' and coalesce(responses.attempts, 0) < @max_attempts)
                    )
                group by requests.request_hash
            )
            """,
            chunk_rows=settings.max_requests_per_job,
            max_attempts=settings.max_attempts,
        )
        entries = []
        try:
            for chunk in range(chunks):
                input_table = f"{node.dataset}.{prefix}_{chunk:03d}"
                self._sql(
                    f"create table `{input_table}` as select request_hash, request from `{staging}` "
                    "where chunk = @chunk",
                    chunk=chunk,
                )
                count = int(self._sql(f"select count(*) as n from `{input_table}`")[0]["n"])
                entry = self._create_job(node, settings, input_table, count)
                entries.append(entry)
                outcome.jobs.append(entry.job_name or "")
                outcome.submitted_requests += count
        finally:
            self.bq.delete_table(staging, not_found_ok=True)
        return entries

    def _job_body(
        self, node: BatchNode, settings: BatchSettings, entry: LedgerEntry
    ) -> aiplatform_v1.BatchPredictionJob:
        return aiplatform_v1.BatchPredictionJob(
            display_name=entry.display_name,
            model=settings.model_resource,
            input_config=aiplatform_v1.BatchPredictionJob.InputConfig(
                instances_format="bigquery",
                bigquery_source=aiplatform_v1.BigQuerySource(input_uri=f"bq://{entry.input_table}"),
            ),
            output_config=aiplatform_v1.BatchPredictionJob.OutputConfig(
                predictions_format="bigquery",
                bigquery_destination=aiplatform_v1.BigQueryDestination(output_uri=f"bq://{entry.output_table}"),
            ),
            labels={
                "dbt_node": label_value(node.name),
                "dbt_invocation": label_value(self.invocation_id),
                "gemini_batch_input": label_value(entry.input_table.rsplit(".", 1)[-1]),
            },
        )

    def _create_job(self, node: BatchNode, settings: BatchSettings, input_table: str, count: int) -> LedgerEntry:
        location = self._location(settings)
        entry = LedgerEntry(
            display_name=f"dbt-gemini-batch {node.name} {input_table.rsplit('.', 1)[-1]}"[:128],
            dbt_node=node.unique_id,
            responses_table=node.responses_table,
            gemini_model=settings.gemini_model,
            vertex_project=settings.vertex_project or node.database,
            vertex_location=location,
            input_table=input_table,
            output_table=f"{input_table}_out",
            request_count=count,
            invocation_id=self.invocation_id,
        )
        # The ledger row comes first: if we die after Vertex accepted the job, the next run finds it by label.
        self.ledger.insert(entry)
        parent = f"projects/{entry.vertex_project}/locations/{location}"
        body = self._job_body(node, settings, entry)
        client = self._jobs(settings)
        delay = 2.0
        for attempt in range(6):
            try:
                job = client.create_batch_prediction_job(parent=parent, batch_prediction_job=body, timeout=120)
                break
            except TRANSIENT as exc:
                # create is not idempotent: the job may exist although the call failed. Look before retrying.
                found = self._find_by_input_label(client, parent, entry)
                if found is not None:
                    job = found
                    break
                if attempt == 5:
                    self.ledger.update(entry, state="JOB_STATE_FAILED", error=f"create failed: {exc}",
                                       collected_at=dt.datetime.now(dt.UTC))  # fmt: skip
                    raise BatchError(f"{node.name}: could not create the batch job after 6 attempts: {exc}") from exc
                self.progress.say(f"{node.name}: create_batch_prediction_job: {exc.__class__.__name__}, retrying")
                self.sleep(delay)
                delay = min(delay * 2, 60)
            except gexc.GoogleAPICallError as exc:
                self.ledger.update(entry, state="JOB_STATE_FAILED", error=f"create rejected: {exc}",
                                   collected_at=dt.datetime.now(dt.UTC))  # fmt: skip
                raise BatchError(f"{node.name}: Vertex rejected the batch job: {exc}") from exc
        self.ledger.update(entry, job_name=job.name, state=job.state.name)
        self.progress.say(f"{node.name}: submitted {job.name.rsplit('/', 1)[-1]} ({count} requests)")
        return entry

    def _find_by_input_label(
        self, client: aiplatform_v1.JobServiceClient, parent: str, entry: LedgerEntry
    ) -> aiplatform_v1.BatchPredictionJob | None:
        value = label_value(entry.input_table.rsplit(".", 1)[-1])
        for _ in range(5):
            try:
                jobs = client.list_batch_prediction_jobs(
                    request={"parent": parent, "filter": f'labels.gemini_batch_input="{value}"'}, timeout=60
                )
                return next(iter(jobs), None)
            except TRANSIENT:
                self.sleep(2.0)
        raise BatchError(f"cannot tell whether the job for {entry.input_table} exists: Vertex keeps failing to list")

    def _recover_submitting(self, node: BatchNode, settings: BatchSettings, entry: LedgerEntry) -> None:
        """A ledger row without a job: the previous run died around create. Adopt the job if Vertex has it."""
        parent = f"projects/{entry.vertex_project}/locations/{entry.vertex_location}"
        found = self._find_by_input_label(self._jobs(settings), parent, entry)
        if found is not None:
            self.ledger.update(entry, job_name=found.name, state=found.state.name)
            return
        # Never created: forget the row; its requests are still pending and get submitted afresh.
        self.ledger.update(entry, state="NOT_SUBMITTED", collected_at=dt.datetime.now(dt.UTC))
        self.bq.delete_table(entry.input_table, not_found_ok=True)

    # -- step 4: waiting ---------------------------------------------------------------------------------------
    def get_job(self, settings: BatchSettings, entry: LedgerEntry) -> aiplatform_v1.BatchPredictionJob:
        delay = 2.0
        for _ in range(10):
            try:
                return self._jobs(settings).get_batch_prediction_job(name=entry.job_name, timeout=60)
            except TRANSIENT:
                self.sleep(delay)
                delay = min(delay * 2, 60)
        raise BatchError(f"cannot read the state of {entry.job_name}: Vertex keeps answering with errors")

    def wait(
        self, node: BatchNode, settings: BatchSettings, entries: list[LedgerEntry]
    ) -> dict[str | None, aiplatform_v1.BatchPredictionJob]:
        started = time.monotonic()
        deadline = started + settings.max_wait_hours * 3600
        delay = settings.poll_initial_seconds
        states: dict[str | None, aiplatform_v1.BatchPredictionJob] = {}
        while True:
            for entry in entries:
                if entry.job_name in states and states[entry.job_name].state.name in TERMINAL_STATES:
                    continue
                job = self.get_job(settings, entry)
                states[entry.job_name] = job
                stats = job.completion_stats
                detail = f"{entry.request_count} requests"
                if stats and (stats.successful_count or stats.failed_count):
                    detail += f", {stats.successful_count} ok / {stats.failed_count} failed"
                self.progress.job_state(node.name, entry.job_name or "", job.state.name, started, detail)
            if all(j.state.name in TERMINAL_STATES for j in states.values()):
                return states
            if time.monotonic() > deadline:
                self.progress.say(
                    f"{node.name}: stopped waiting after {settings.max_wait_hours} h; the jobs go on. "
                    "Collect them later with `dbt-gemini-batch collect`."
                )
                return states
            self.sleep(delay)
            delay = min(delay * 1.5, settings.poll_max_seconds)

    # -- step 5: collecting ------------------------------------------------------------------------------------
    def collect(
        self,
        node: BatchNode,
        settings: BatchSettings,
        entry: LedgerEntry,
        job: aiplatform_v1.BatchPredictionJob,
        outcome: NodeOutcome,
    ) -> None:
        state = job.state.name
        reported = job.output_info.bigquery_output_table if job.output_info else ""
        output: str = _table_id(reported) if reported else (entry.output_table or "")
        error = job.error.message if job.error and job.error.message else None
        counts: dict[str, int] = {}
        output_exists = bool(output) and self._exists(output)
        # Rows already written are kept whatever the job's end: a cancelled or failed job may have answered some.
        if output_exists:
            counts = self._merge(node, output, entry.job_name or "")
        finished = job.end_time if job.end_time else dt.datetime.now(dt.UTC)
        self.ledger.update(
            entry,
            state=state,
            error=error,
            output_table=output,
            succeeded_count=counts.get("succeeded", 0),
            failed_count=counts.get("failed", 0),
            prompt_tokens=counts.get("prompt_tokens", 0),
            output_tokens=counts.get("output_tokens", 0),
            thoughts_tokens=counts.get("thoughts_tokens", 0),
            cached_tokens=counts.get("cached_tokens", 0),
            total_tokens=counts.get("total_tokens", 0),
            finished_at=finished,
            collected_at=dt.datetime.now(dt.UTC),
        )
        outcome.succeeded += counts.get("succeeded", 0)
        outcome.failed += counts.get("failed", 0)
        short = (entry.job_name or "").rsplit("/", 1)[-1]
        self.progress.say(
            f"{node.name}: job {short} {state.removeprefix('JOB_STATE_')}: "
            f"{counts.get('succeeded', 0)} answered, {counts.get('failed', 0)} failed rows"
            + (f"; error: {error}" if error else "")
        )
        if state not in SUCCESS_STATES:
            outcome.errors.append(
                f"{node.name}: batch job {short} ended {state.removeprefix('JOB_STATE_')}"
                + (f": {error}" if error else "")
                + "; its unanswered requests stay pending and are sent again on the next run"
            )
        if not settings.keep_job_tables:
            self.bq.delete_table(entry.input_table, not_found_ok=True)
            if output_exists:
                self.bq.delete_table(output, not_found_ok=True)

    def _exists(self, table: str) -> bool:
        try:
            self.bq.get_table(table)
        except gexc.NotFound:
            return False
        return True

    def _merge(self, node: BatchNode, output: str, job_name: str) -> dict[str, int]:
        """Merge one job's output into m__responses; returns the output's row counts and token sums."""
        schema = {f.name: f.field_type.upper() for f in self.bq.get_table(output).schema}
        # Vertex documents `response` as JSON; read a STRING one too rather than trust an unverified detail.
        response = "response" if schema.get("response") == "JSON" else "safe.parse_json(response)"
        # The cache keeps the request as text; the output echoes the input's type, which we wrote as STRING.
        request = "to_json_string(request)" if schema.get("request") == "JSON" else "request"
        processed = "processed_time" if "processed_time" in schema else "current_timestamp()"
        text = f"to_json_string({response})"
        self._sql(
            f"""
            merge `{node.responses_table}` as target
            using (
                select
                    request_hash,
                    {request} as request,
                    {response} as response,
                    coalesce(status, '') as status,
                    {processed} as processed_time
                from `{output}`
                where request_hash is not null
                qualify row_number() over (
                    partition by request_hash
                    order by if(coalesce(status, '') = '', 0, 1), {processed} desc
                ) = 1
            ) as source
            on target.request_hash = source.request_hash
            when matched and (target.status is null or target.status != '') then update set
                response = source.response,
                status = source.status,
                processed_time = source.processed_time,
                job_name = @job_name,
                attempts = coalesce(target.attempts, 0) + 1,
                updated_at = current_timestamp()
            when not matched then insert
                (request_hash, request, response, status, processed_time, job_name, attempts, updated_at)
                values (source.request_hash, source.request, source.response, source.status,
                    source.processed_time, @job_name, 1, current_timestamp())
            """,
            job_name=job_name,
        )
        rows = self._sql(
            f"""
            select
                countif(coalesce(status, '') = '') as succeeded,
                countif(coalesce(status, '') != '') as failed,
                sum(safe_cast(json_value({text}, '$.usageMetadata.promptTokenCount') as int64)) as prompt_tokens,
                sum(safe_cast(json_value({text}, '$.usageMetadata.candidatesTokenCount') as int64)) as output_tokens,
                sum(safe_cast(json_value({text}, '$.usageMetadata.thoughtsTokenCount') as int64)) as thoughts_tokens,
                sum(safe_cast(json_value({text}, '$.usageMetadata.cachedContentTokenCount') as int64))
                    as cached_tokens,
                sum(safe_cast(json_value({text}, '$.usageMetadata.totalTokenCount') as int64)) as total_tokens
            from `{output}`
            """
        )
        return {k: int(v or 0) for k, v in dict(rows[0]).items()}

    # -- scheduler commands ------------------------------------------------------------------------------------
    def cancel(self, node: BatchNode, settings: BatchSettings) -> list[str]:
        cancelled = []
        for entry in self.ledger.uncollected(node.unique_id):
            if not entry.job_name:
                continue
            job = self.get_job(settings, entry)
            if job.state.name in TERMINAL_STATES:
                continue
            self._jobs(settings).cancel_batch_prediction_job(name=entry.job_name, timeout=60)
            self.ledger.update(entry, state="JOB_STATE_CANCELLING")
            cancelled.append(entry.job_name)
            self.progress.say(f"{node.name}: cancel requested for {entry.job_name.rsplit('/', 1)[-1]}")
        return cancelled
