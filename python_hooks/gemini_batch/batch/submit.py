"""Step 3: split the pending hashes into hash buckets of at most max_requests_per_job, write one job input table per
bucket and create one Vertex batch job per table (the flight module decides when: within the in-flight caps).

Creating a job is not idempotent: when create fails in transit the job may exist anyway. Every job therefore gets a
ledger row before create, and a label that finds it again; a transient failure, or a run that died around create,
looks the job up by that label before anything is created again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1

from gemini_batch.batch import gcs
from gemini_batch.batch.common import (
    TRANSIENT,
    BatchError,
    NodeOutcome,
    label_value,
    never_connected,
    table_id,
    transient_retry,
)
from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.lease import Lease, prove
from gemini_batch.batch.plan import (
    PENDING_CONDITION,
    count_requests,
    has_row_states,
    pending_from,
    pending_params,
)
from gemini_batch.batch.preflight import check_bucket_location, check_file_uris, check_location
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import SUBMITTING, LedgerEntry
from gemini_batch.settings import BatchSettings

# a module import, not a name: spend.guards imports gemini_batch.batch, which imports this module
from gemini_batch.spend import guards as spend_guards

CREATE_RETRY_SECONDS = 600.0  # total time spent retrying a create that fails in transit
# The ledger state of a create Vertex refused (not a Vertex job state: no job exists); gemini_batch_job_history prices
# it at 0.
REFUSED = "REFUSED"
LIST_RETRY_SECONDS = 120.0
# After a create that may have succeeded, the job is looked for over this long (listed again after growing pauses)
# before another is created: Vertex does not document batchPredictionJobs.list as read-after-write. When the job's
# output table exists, a job certainly exists and is looked for up to FOUND_OUTPUT_SECONDS; never created again.
LIST_SETTLE_SECONDS = 120.0
FOUND_OUTPUT_SECONDS = 900.0
# Job tables expire on their own if a crash leaves them behind. An input table must outlive the job reading it: Vertex
# queues a batch job up to 72 h and runs it up to 24 h (cloud.google.com/vertex-ai/generative-ai/docs/multimodal/
# batch-prediction-gemini), so 5 days; collect drops it anyway once the answers are merged.
INPUT_TABLE_DAYS = 5
INPUT_LABEL = "gemini_batch_input"
LEASE_LABEL = "gemini_batch_lease"  # the generation of the submit lease held when the job was created (batch/lease.py)


def _expiring(days: int) -> str:
    return f"options (expiration_timestamp = timestamp_add(current_timestamp(), interval {days:d} day))"


@dataclass
class ChunkPlan:
    """How one submission splits a model's pending hashes: bucket b of n holds the hashes whose fingerprint is b mod n.

    No global sort: a bucket is a pure function of request_hash. The pending rows are selected once, with their
    bucket, into one table clustered by bucket (write_pending); each chunk's input table reads only its bucket's
    blocks, and a chunk written late (after the jobs in flight leave room) holds the hashes it would have held at
    once, less any another run answered meanwhile. Buckets are disjoint, so no hash is ever in two jobs of one
    submission.
    """

    prefix: str
    n_buckets: int
    sizes: dict[int, int]  # bucket -> pending hashes in it (empty buckets are left out)
    queued: list[int] = field(default_factory=list)  # buckets not submitted yet, in order
    by_state: bool = False  # m__requests has gemini_batch_state: the pending selection prunes answered rows
    # the rows' staged states still hold (plan.count_requests): pending rows selected by state, the cache not read
    states_only: bool = False
    # the ledger's events of the cache's other jobs before the pending rows were selected (Ledger.events_mark), or
    # before the staged states were read (states_only)
    ledger_mark: tuple[int, int] | None = None

    @property
    def pending(self) -> int:
        return sum(self.sizes.values())

    @property
    def pending_table(self) -> str:
        """Every pending row of this submission with its bucket, clustered by bucket (write_pending)."""
        return f"{self.prefix}_pending"


def bucket_count(pending: int, max_requests_per_job: int) -> int:
    """ceil(pending * 1.1 / max): 10% headroom so that a hash bucket of uneven size rarely exceeds the job limit."""
    return max(1, math.ceil(pending * 1.1 / max_requests_per_job))


# mod(mod(x, n) + n, n) and not mod(abs(x), n): abs() of the smallest INT64 is an error on BigQuery, and BigQuery's
# mod() keeps the dividend's sign (cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions#mod).
BUCKET_SQL = "mod(mod(farm_fingerprint(requests.request_hash), @n_buckets) + @n_buckets, @n_buckets)"


def plan_chunks(ctx: BatchContext, node: BatchNode, settings: BatchSettings, outcome: NodeOutcome) -> ChunkPlan | None:
    """Count pending hashes per bucket (one aggregate, no sort); more buckets while one exceeds max_requests_per_job.

    None when nothing is pending. Checked before any table is written or job created.
    """
    # before any table is built or job created; with answer_with inline/auto the model may live in a US/EU dataset
    # that only AI.GENERATE answers, so there the location matters only when a batch job would be created
    if settings.answer_with == "batch":
        check_location(ctx, node, settings)
    counts = count_requests(ctx, node, settings)
    pending, exhausted = counts.pending, counts.exhausted
    outcome.exhausted = exhausted
    if exhausted:
        ctx.progress.say(
            f"{node.name}: {exhausted} request(s) failed {settings.max_attempts} times and are not sent again "
            f"(see status in {node.alias}; raise max_attempts to retry them)"
        )
    if pending == 0:
        ctx.progress.say(f"{node.name}: 0 requests pending, nothing to submit")
        return None
    if settings.answer_with != "batch":
        check_location(ctx, node, settings)
    check_bucket_location(ctx, node, settings)  # transport gcs: the bucket is where the dataset is, before any export
    spend_guards.guard_before_submit(ctx, node, settings, counts)  # spend guards: raise before any table or job
    n_buckets = bucket_count(pending, settings.max_requests_per_job)
    by_state = has_row_states(ctx, node)
    # the materialization's staged states hold (count_requests checked its ledger mark): no cache read to select
    states_only = by_state and counts.ledger_mark is not None
    by_bytes = settings.transport == "gcs"  # Cloud Storage input is limited in bytes too (max_input_bytes_per_job)
    # One bucket holds every pending hash, which count_requests just counted: no query needed. (submit_chunk counts
    # the rows it wrote again, so rows added meanwhile cannot make a job over the limit.)
    sizes: dict[int, int] | None = {0: pending} if n_buckets == 1 and not by_bytes else None
    while sizes is None:
        # the JSONL bytes of each request only when they bound the chunk: reading `request` bills its whole column
        line_bytes = (
            f"any_value({gcs.line_bytes_sql('requests.request', 'requests.request_hash')})" if by_bytes else "0"
        )
        rows = ctx.sql(
            f"""
            select bucket, count(*) as n, sum(line_bytes) as line_bytes
            from (
                select requests.request_hash, {BUCKET_SQL} as bucket, {line_bytes} as line_bytes
                {pending_from(node, by_state, states_only)}
                group by requests.request_hash, bucket
            )
            group by bucket
            """,
            node=node.unique_id,
            n_buckets=n_buckets,
            **pending_params(settings.max_attempts, states_only),
        )
        sizes = {int(r["bucket"]): int(r["n"]) for r in rows if int(r["n"])}
        byte_sizes = [int(r["line_bytes"] or 0) for r in rows]
        too_many_bytes = max(byte_sizes, default=0) > settings.max_input_bytes_per_job
        if max(sizes.values(), default=0) > settings.max_requests_per_job or too_many_bytes:
            grown = n_buckets + max(1, n_buckets // 4)  # an unlucky split: re-bucket with more, smaller buckets
            if too_many_bytes:
                if n_buckets >= pending:  # one request per bucket and still too large: no split can help
                    raise BatchError(
                        f"{node.name}: a request is larger than max_input_bytes_per_job="
                        f"{settings.max_input_bytes_per_job} bytes of Cloud Storage input on its own; raise "
                        "max_input_bytes_per_job (at most 1 GB, Vertex's limit) or use transport: bigquery"
                    )
                grown = max(grown, bucket_count(sum(byte_sizes), settings.max_input_bytes_per_job))
            sizes, n_buckets = None, min(grown, pending)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    plan = ChunkPlan(
        prefix=f"{node.dataset}.{node.alias}__batch_{stamp}_{uuid.uuid4().hex[:6]}",
        n_buckets=n_buckets,
        sizes=sizes,
        queued=sorted(sizes),
        by_state=by_state,
        states_only=states_only,
    )
    # taken before the selection: an event between the two only costs a check (submit_chunk), never a miss. With
    # states_only, the mark the states were read under: no input table holds the new prefix yet, so it is the same
    # count, and an event since (even one before this line) makes each chunk check the cache.
    plan.ledger_mark = (
        counts.ledger_mark if states_only else ctx.ledger.events_mark(node.responses_table, plan.prefix, node.unique_id)
    )
    write_pending(ctx, node, settings, plan)
    try:
        check_file_uris(ctx, node, settings, plan.pending_table)  # the gs:// objects of fileData parts exist
    except BaseException:
        ctx.bq.delete_table(plan.pending_table, not_found_ok=True)
        raise
    ctx.progress.say(
        f"{node.name}: {plan.pending} request(s) pending -> {len(sizes)} batch job(s) on {settings.gemini_model}"
    )
    return plan


def write_pending(ctx: BatchContext, node: BatchNode, settings: BatchSettings, plan: ChunkPlan) -> None:
    """The pending rows, selected once per submission into one table clustered by bucket: each chunk's input table
    and check_file_uris then read this table, not m__requests (whose request column a bucket filter cannot prune:
    on-demand BigQuery bills every referenced column of every row scanned). Expires like the input tables (queued
    buckets may wait for jobs in flight); dropped once the last bucket is written."""
    ctx.sql(
        f"""
        create table `{plan.pending_table}`
        cluster by bucket
        {_expiring(INPUT_TABLE_DAYS)} as
        select
            request_hash,
            request,
            bucket,
            -- the request again only when its text names a file: check_file_uris reads this column, which holds
            -- NULL (0 bytes billed) for every request without one, and never the requests of a text-only model
            if(strpos(request, 'fileUri') > 0 or strpos(request, 'file_uri') > 0, request, null) as file_request
        from (
            select requests.request_hash, any_value(requests.request) as request, {BUCKET_SQL} as bucket
            {pending_from(node, plan.by_state, plan.states_only)}
            group by requests.request_hash
        )
        """,
        node=node.unique_id,
        n_buckets=plan.n_buckets,
        **pending_params(settings.max_attempts, plan.states_only),
    )


def answered_since_plan(ctx: BatchContext, node: BatchNode, plan: ChunkPlan) -> str:
    """A condition leaving out of a chunk the hashes answered since the pending rows were selected, or nothing when
    none can have been.

    Only a job's merge or an inline answer takes a hash out of the pending set, and each leaves an event in the
    ledger. The plan is made under the submit lease with no other job of the cache in flight (the flight adopts
    those instead), and this submission's own jobs hold other buckets: when the ledger has no new event for the
    cache's other jobs (Ledger.events_mark), the pending rows are still pending and the check, which reads the
    cache's hash, status and attempts columns in full, is not run. Otherwise it leaves out what was answered."""
    if (
        plan.ledger_mark is not None
        and ctx.ledger.events_mark(node.responses_table, plan.prefix, node.unique_id) == plan.ledger_mark
    ):
        return ""
    return f"""
            and pending.request_hash not in (
                select responses.request_hash
                from `{node.responses_table}` as responses
                where responses.request_hash is not null and not {PENDING_CONDITION}
            )"""


def submit_chunk(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    plan: ChunkPlan,
    outcome: NodeOutcome,
    held: Lease | None = None,
) -> LedgerEntry:
    """Write the next queued bucket's input table (once, straight from the pending rows) and create its job, holding
    the submit lease `held` (proved before anything is written)."""
    if held is not None:
        prove(ctx, held, "writing a job's input table")
    bucket = plan.queued.pop(0)
    input_table = f"{plan.prefix}_{bucket:03d}"
    # The bucket is a constant in the SQL text, not a parameter: only a constant filter on the clustering column
    # prunes the pending table's blocks (cloud.google.com/bigquery/docs/querying-clustered-tables).
    ctx.sql(
        f"""
        create table `{input_table}` {_expiring(INPUT_TABLE_DAYS)} as
        select pending.request_hash, pending.request
        from `{plan.pending_table}` as pending
        where pending.bucket = {bucket:d}{answered_since_plan(ctx, node, plan)}
        """,
        node=node.unique_id,
        max_attempts=settings.max_attempts,
    )
    if not plan.queued:  # every bucket is written: the pending rows are not needed any more
        ctx.bq.delete_table(plan.pending_table, not_found_ok=True)
    # the table's row count is metadata (free); a query would read its hashes
    count = int(ctx.bq.get_table(input_table).num_rows or 0)
    if count > settings.max_requests_per_job:  # cannot happen unless rows were added since the plan; never send it
        ctx.bq.delete_table(input_table, not_found_ok=True)
        raise BatchError(
            f"{node.name}: chunk {input_table} has {count} requests, more than max_requests_per_job="
            f"{settings.max_requests_per_job}; the model's rows changed during submission, run again"
        )
    if settings.transport == "gcs" and settings.gcs_prefix:
        # the same rows as JSONL in Cloud Storage, written by BigQuery; the table stays as the record of what was sent
        uri = gcs.input_uri(settings.gcs_prefix, input_table)
        gcs.export_requests(ctx, node, input_table, uri)
        written = gcs.input_bytes(ctx, uri)
        if written > settings.max_input_bytes_per_job:  # the plan's estimate was short: never send it
            gcs.delete_under(ctx, gcs.input_prefix(uri))
            ctx.bq.delete_table(input_table, not_found_ok=True)
            raise BatchError(
                f"{node.name}: chunk {input_table} exported {written} bytes of JSONL, more than "
                f"max_input_bytes_per_job={settings.max_input_bytes_per_job} (Vertex takes at most 1 GB of Cloud "
                "Storage input per job); nothing was submitted: lower max_input_bytes_per_job and run again"
            )
    entry = create_job(ctx, node, settings, input_table, count, held)
    outcome.jobs.append(entry.job_name or "")
    outcome.submitted_requests += count
    return entry


def job_body(
    ctx: BatchContext, node: BatchNode, settings: BatchSettings, entry: LedgerEntry
) -> aiplatform_v1.BatchPredictionJob:
    if settings.transport == "gcs" and settings.gcs_prefix:
        input_config = gcs.input_config(gcs.input_uri(settings.gcs_prefix, entry.input_table))
        output_config = gcs.output_config(gcs.output_prefix(settings.gcs_prefix, entry.input_table))
    else:
        input_config = aiplatform_v1.BatchPredictionJob.InputConfig(
            instances_format="bigquery",
            bigquery_source=aiplatform_v1.BigQuerySource(input_uri=f"bq://{entry.input_table}"),
        )
        output_config = aiplatform_v1.BatchPredictionJob.OutputConfig(
            predictions_format="bigquery",
            bigquery_destination=aiplatform_v1.BigQueryDestination(output_uri=f"bq://{entry.output_table}"),
        )
    return aiplatform_v1.BatchPredictionJob(
        display_name=entry.display_name,
        model=settings.model_resource,
        input_config=input_config,
        output_config=output_config,
        # Labels reach the billing export's `labels` column: the dbt project, model and invocation a cost belongs to
        # (README "Costs" joins them to gemini_batch_usage).
        labels={
            "dbt_project": label_value(node.unique_id.split(".")[1]),
            "dbt_node": label_value(node.name),
            "dbt_invocation": label_value(ctx.invocation_id),
            INPUT_LABEL: input_label(entry.input_table),
            **({LEASE_LABEL: entry.lease_token} if entry.lease_token else {}),
        },
    )


def input_label(input_table: str) -> str:
    """A label value unique to this job: a digest of its input table's full id (unique per chunk and submission).

    Never the table name cut to 63 characters: with a long model alias every chunk, and earlier runs, would share it,
    and a lookup after a failed create would adopt another entry's job.
    """
    return "in-" + hashlib.sha256(input_table.encode()).hexdigest()[:40]


def create_job(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    input_table: str,
    count: int,
    held: Lease | None = None,
) -> LedgerEntry:
    location = ctx.location(settings)
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
        invocation_id=ctx.invocation_id,
        lease_token=held.token if held is not None else None,
    )
    # The ledger row comes first: if we die after Vertex accepted the job, the next run finds it by label.
    ctx.ledger.insert(entry)
    parent = f"projects/{entry.vertex_project}/locations/{location}"
    body = job_body(ctx, node, settings, entry)
    client = ctx.jobs(settings)

    def create_or_find() -> aiplatform_v1.BatchPredictionJob:
        if held is not None:
            prove(ctx, held, "creating a batch job")  # every attempt: a retry may come after a long pause
        try:
            return client.create_batch_prediction_job(parent=parent, batch_prediction_job=body, timeout=120)
        except TRANSIENT as exc:
            if never_connected(exc):
                raise  # the request never left: no job can exist
            # The job may exist although the call failed. Look (over a bounded window) before retrying.
            ctx.progress.say(
                f"{node.name}: create_batch_prediction_job answered {exc.__class__.__name__}; the job may exist, "
                f"looking for it for up to {LIST_SETTLE_SECONDS:.0f} s before creating it again"
            )
            found = find_created(ctx, client, parent, entry)
            if found is not None:
                return found
            raise

    def report(exc: Exception) -> None:
        ctx.progress.say(f"{node.name}: create_batch_prediction_job: {exc.__class__.__name__}, retrying")

    try:
        job = transient_retry(CREATE_RETRY_SECONDS, on_error=report)(create_or_find)()
    except TRANSIENT as exc:
        ctx.ledger.update(entry, state="JOB_STATE_FAILED", error=f"create failed: {exc}",
                          collected_at=dt.datetime.now(dt.UTC))  # fmt: skip
        why = "Vertex AI cannot be reached" if never_connected(exc) else f"failing for {CREATE_RETRY_SECONDS:.0f} s"
        raise BatchError(f"{node.name}: could not create the batch job ({why}): {exc}") from exc
    except gexc.GoogleAPICallError as exc:
        # No job exists, nothing was sent or billed: REFUSED with no requests and no tokens (cost 0, not unknown),
        # ended (collected) at once, so no later command reports or waits for it again. Its rows stay pending.
        ctx.ledger.update(entry, state=REFUSED, error=f"create refused: {exc}", request_count=0, succeeded_count=0,
                          failed_count=0, prompt_tokens=0, output_tokens=0, thoughts_tokens=0, cached_tokens=0,
                          total_tokens=0, finished_at=dt.datetime.now(dt.UTC),
                          collected_at=dt.datetime.now(dt.UTC))  # fmt: skip
        # No job will ever read it: Vertex refused the create.
        ctx.bq.delete_table(entry.input_table, not_found_ok=True)
        raise BatchError(f"{node.name}: Vertex rejected the batch job: {exc}") from exc
    ctx.ledger.update(entry, job_name=job.name, state=job.state.name)
    ctx.progress.say(f"{node.name}: submitted {job.name.rsplit('/', 1)[-1]} ({count} requests)")
    return entry


def find_by_input_label(
    client: aiplatform_v1.JobServiceClient, parent: str, entry: LedgerEntry
) -> aiplatform_v1.BatchPredictionJob | None:
    """The job created for this ledger entry, if Vertex has one: its label and its input table must both match."""
    value = input_label(entry.input_table)
    source = f"bq://{entry.input_table}"
    # with transport gcs the input is <gcs_prefix>/<input table name>/input/...: the folder names the table
    folder = f"/{entry.input_table.rsplit('.', 1)[-1]}/{gcs.INPUT_FILES}"

    def reads_entry_input(job: aiplatform_v1.BatchPredictionJob) -> bool:
        uris = job.input_config.gcs_source.uris
        return job.input_config.bigquery_source.input_uri == source or any(u.endswith(folder) for u in uris)

    def lookup() -> aiplatform_v1.BatchPredictionJob | None:
        # ListBatchPredictionJobsRequest.filter supports `labels.key=value` (aiplatform_v1 types/job_service.py).
        jobs = client.list_batch_prediction_jobs(
            request={"parent": parent, "filter": f'labels.{INPUT_LABEL}="{value}"'}, timeout=60
        )
        return next((job for job in jobs if reads_entry_input(job)), None)

    try:
        return transient_retry(LIST_RETRY_SECONDS)(lookup)()
    except TRANSIENT as exc:
        raise BatchError(
            f"cannot tell whether the job for {entry.input_table} exists: Vertex keeps failing to list"
        ) from exc


def find_created(
    ctx: BatchContext,
    client: aiplatform_v1.JobServiceClient,
    parent: str,
    entry: LedgerEntry,
    settle_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> aiplatform_v1.BatchPredictionJob | None:
    """The job of a create that may have succeeded: listed by its label now and again after pauses of 2, 4, 8 ... 30 s
    for settle_seconds (default LIST_SETTLE_SECONDS). None only when it never showed and its output table does not
    exist; when the output table exists a job certainly does, and it is looked for up to FOUND_OUTPUT_SECONDS, then
    the step fails rather than create a second one."""
    settle = LIST_SETTLE_SECONDS if settle_seconds is None else settle_seconds
    started = time.monotonic()
    pause = 2.0
    output_seen = False
    while True:
        found = find_by_input_label(client, parent, entry)
        if found is not None:
            return found
        if not output_seen and entry.output_table and ctx.table_exists(entry.output_table):
            output_seen = True
            settle = max(settle, FOUND_OUTPUT_SECONDS)
        if time.monotonic() - started + pause > settle:
            if output_seen:
                raise BatchError(
                    f"a batch job for {entry.input_table} exists (it wrote {entry.output_table}) but Vertex has not "
                    f"listed it for {settle:.0f} s; nothing was created again. Run again later: it is found and "
                    "collected then"
                )
            return None
        sleep(pause)
        pause = min(pause * 2, 30.0)


def recover_submitting(ctx: BatchContext, settings: BatchSettings, entry: LedgerEntry, held: Lease) -> None:
    """A ledger row without a job: the previous run died around create. Adopt the job if Vertex has it.

    Only under the submit lease (`held`): a row still SUBMITTING may belong to a live run retrying its create inside
    the lease; once we hold it, that run has finished or lost it. Its input table is dropped only after proving it.
    """
    parent = f"projects/{entry.vertex_project}/locations/{entry.vertex_location}"
    # The list has had time to settle since the row was written (by the dead run's clock: a guess, hence the adoption
    # sweep below for a job that shows later still).
    age = (dt.datetime.now(dt.UTC) - entry.submitted_at).total_seconds() if entry.submitted_at else 0.0
    found = find_created(
        ctx, ctx.jobs(settings), parent, entry, max(0.0, min(LIST_SETTLE_SECONDS - age, LIST_SETTLE_SECONDS))
    )
    if found is not None:
        entry.lease_token = held.token
        ctx.ledger.update(entry, job_name=found.name, state=found.state.name)
        return
    prove(ctx, held, "dropping an unsubmitted job's input table")
    # Never created: forget the row; its requests are still pending and get submitted afresh.
    entry.lease_token = held.token
    ctx.ledger.update(entry, state="NOT_SUBMITTED", collected_at=dt.datetime.now(dt.UTC))
    ctx.bq.delete_table(entry.input_table, not_found_ok=True)


ADOPT_DAYS = INPUT_TABLE_DAYS  # a job older than its input table's lifetime can no longer read it


def job_input_table(node: BatchNode, job: aiplatform_v1.BatchPredictionJob) -> str | None:
    """The input table (project.dataset.table) of a job this package created for the node's answer cache, or None.

    Other targets' caches share the node's label (dbt_node) and often the gcs_prefix: a dev and a prod dataset, or
    two copies of one project. A Cloud Storage job's input files name only the table, never its dataset, so its
    input label (a digest of the full table id, set at create) must match too: otherwise one target would adopt,
    merge and drop another target's job."""
    uri = job.input_config.bigquery_source.input_uri
    if uri:
        table = table_id(uri)
    else:  # transport gcs: <gcs_prefix>/<input table name>/input/...
        names = [u.rstrip("/").split("/")[-3] for u in job.input_config.gcs_source.uris if u.count("/") >= 4]
        table = f"{node.dataset}.{names[0]}" if names else ""
        if job.labels.get(INPUT_LABEL) != input_label(table):
            return None
    return table if table.startswith(f"{node.dataset}.{node.alias}__batch_") else None


def adopt_unknown_jobs(ctx: BatchContext, node: BatchNode, settings: BatchSettings, held: Lease) -> list[LedgerEntry]:
    """Jobs Vertex has for the node's answer cache that the ledger does not know (no row for their input table, or a
    row without a job: given up as NOT_SUBMITTED because the job did not show in the list in time, or FAILED after
    every create attempt answered an error) are adopted: recorded in the ledger
    as in flight, so they are collected (their answers merged, their tables dropped) instead of left as orphans.
    Under the submit lease, before planning: their hashes are then not sent again."""
    location = ctx.location(settings)
    parent = f"projects/{settings.vertex_project or node.database}/locations/{location}"
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=ADOPT_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # ListBatchPredictionJobsRequest.filter: labels.key="value" and create_time>"RFC 3339" (aiplatform_v1
    # types/job_service.py)
    request = {"parent": parent, "filter": f'labels.dbt_node="{label_value(node.name)}" AND create_time>"{since}"'}
    jobs = transient_retry(LIST_RETRY_SECONDS)(
        lambda: list(ctx.jobs(settings).list_batch_prediction_jobs(request=request, timeout=60))
    )()
    by_input = {table: job for job in jobs if (table := job_input_table(node, job))}
    if not by_input:
        return []
    known = ctx.ledger.by_input_tables(node.responses_table, list(by_input))
    adopted = []
    for table, job in by_input.items():
        entry = known.get(table)
        if entry is not None and (entry.job_name or entry.state == SUBMITTING):
            continue  # known, or being resolved (recover_submitting)
        prove(ctx, held, "adopting a job the ledger does not know")
        if entry is None:
            entry = LedgerEntry(
                display_name=job.display_name, dbt_node=node.unique_id, responses_table=node.responses_table,
                gemini_model=settings.gemini_model, vertex_project=settings.vertex_project or node.database,
                vertex_location=location, input_table=table, output_table=f"{table}_out", request_count=0,
                invocation_id=ctx.invocation_id,
            )  # fmt: skip
        entry.lease_token = held.token
        entry.collected_at = None
        ctx.ledger.update(entry, job_name=job.name, state=job.state.name, error=None)
        ctx.progress.say(
            f"{node.name}: adopted batch job {job.name.rsplit('/', 1)[-1]} (reading {table}), which the ledger did "
            "not know: it is collected like the others"
        )
        adopted.append(entry)
    return adopted
