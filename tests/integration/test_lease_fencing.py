"""Leases that hold when a holder pauses, a response is lost or a clock is wrong (batch/lease.py), through
google-cloud-bigquery against the local BigQuery (which honours If-Match and can lose answers on purpose)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.batch import collect as collect_step
from gemini_batch.batch import lease
from gemini_batch.batch import submit as submit_step
from gemini_batch.batch.common import NodeOutcome
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import Ledger, LedgerEntry
from gemini_batch.local.clients import local_bigquery_client
from gemini_batch.local.stack import StackInfo
from gemini_batch.progress import Progress
from gemini_batch.settings import BatchSettings
from tests.conftest import LOCATION
from tests.integration.demo_project import set_bigquery_faults
from tests.integration.test_collect_guards import Job, _answer, _create_ledger, _request

pytestmark = pytest.mark.integration

TTL = 10


@pytest.fixture()
def short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leases of TTL seconds whose renewer never runs in the test: a holder frozen as by SIGSTOP."""
    monkeypatch.setattr(lease, "TTL_SECONDS", TTL)
    monkeypatch.setattr(lease, "RENEW_SECONDS", 3600)
    monkeypatch.setattr(lease, "PROVE_MARGIN_SECONDS", 3)
    monkeypatch.setattr(lease, "RELEASE_MARGIN_SECONDS", 2)
    monkeypatch.setattr(lease, "CLOCK_ALLOWANCE_SECONDS", 1.0)


@pytest.fixture()
def no_faults(local_stack: StackInfo) -> Iterator[None]:
    yield
    set_bigquery_faults(local_stack.bigquery_endpoint, [])


def _ctx(stack: StackInfo, dataset: str, lines: list[str]) -> BatchContext:
    # a client of its own per run, as two processes would have
    bq = local_bigquery_client(stack.bigquery_endpoint, stack.project, LOCATION)
    ledger = Ledger(bq, f"{bq.project}.{dataset}.gemini_batch_jobs")
    return BatchContext(bq, ledger, lambda s, loc: None, LOCATION, progress=Progress(lines.append))  # type: ignore[arg-type,return-value]


def _node(bq: bigquery.Client, dataset: str) -> BatchNode:
    return BatchNode("model.p.m", "m", bq.project, dataset, "m")


def _lease_tables(bq: bigquery.Client, dataset: str) -> list[str]:
    return [t.table_id for t in bq.list_tables(dataset) if t.table_id.startswith("gemini_batch_lease_")]


def _wait_until_expired(ctx: BatchContext, held: lease.Lease) -> None:
    while lease.SERVER_CLOCK.now(ctx.bq) <= held.expires + 0.5:
        time.sleep(0.5)


@pytest.mark.usefixtures("no_faults")
def test_a_retried_insert_that_meets_its_own_lease_holds_it_without_waiting(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str
) -> None:
    lines: list[str] = []
    ctx = _ctx(local_stack, dataset, lines)
    # the lease insert lands, its answer is lost; the client retries it and meets the table it made (409)
    rules = [{"method": "POST", "path": "/tables$", "body_contains": "gemini_batch_lease_submit_", "times": 1}]
    set_bigquery_faults(local_stack.bigquery_endpoint, rules)
    with lease.held(ctx, _node(bq_client, dataset), lease.SUBMIT, wait_seconds=0) as held:
        assert [r["fired"] for r in set_bigquery_faults(local_stack.bigquery_endpoint, None)] == [1]
        table = bq_client.get_table(held.table)
        assert table.labels[lease.OWNER_LABEL] == held.owner
        assert table.labels[lease.GENERATION_LABEL] == held.token
        lease.prove(ctx, held, "a test step")
    assert not any("waiting" in line for line in lines), lines
    assert _lease_tables(bq_client, dataset) == []


@pytest.mark.usefixtures("short_leases")
def test_a_holder_paused_past_its_lease_is_fenced_off_and_leaves_the_new_holder_alone(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str
) -> None:
    node = _node(bq_client, dataset)
    a = _ctx(local_stack, dataset, [])
    b_lines: list[str] = []
    b = _ctx(local_stack, dataset, b_lines)
    held_a = lease.acquire(a, node, lease.SUBMIT, wait_seconds=0)
    lease.prove(a, held_a, "a test step")  # held, well within its deadline
    with pytest.raises(lease.LeaseBusy):
        lease.acquire(b, node, lease.SUBMIT, wait_seconds=0)
    _wait_until_expired(b, held_a)  # A is "frozen": no renewal
    held_b = lease.acquire(b, node, lease.SUBMIT, wait_seconds=0)
    assert int(held_b.token) > int(held_a.token)
    with pytest.raises(lease.LeaseLost) as lost:
        lease.prove(a, held_a, "creating a batch job")
    message = str(lost.value)
    assert "\n" not in message and "lost the submit lease" in message and "before creating a batch job" in message
    lease.release(a, held_a)  # must not delete B's lease
    assert bq_client.get_table(held_b.table).labels[lease.OWNER_LABEL] == held_b.owner
    lease.prove(b, held_b, "a test step")
    lease.release(b, held_b)
    assert _lease_tables(bq_client, dataset) == []


@pytest.mark.usefixtures("short_leases")
def test_a_clock_minutes_ahead_does_not_take_a_live_lease(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = _node(bq_client, dataset)
    a = _ctx(local_stack, dataset, [])
    b = _ctx(local_stack, dataset, [])
    held_a = lease.acquire(a, node, lease.SUBMIT, wait_seconds=0)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 300)  # this machine's clock: 5 minutes ahead
    with pytest.raises(lease.LeaseBusy):
        lease.acquire(b, node, lease.SUBMIT, wait_seconds=0)
    monkeypatch.setattr(time, "time", real_time)
    lease.prove(a, held_a, "a test step")
    lease.release(a, held_a)


@pytest.mark.usefixtures("short_leases")
def test_a_collector_paused_past_its_lease_never_overwrites_the_ledger_of_the_one_that_took_over(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str
) -> None:
    _create_ledger(bq_client, dataset)
    job = Job(bq_client, dataset, "paused")
    sent = {"h1": _request("one"), "h2": _request("two")}
    job.write(sent, [("h1", sent["h1"], _answer("1"), ""), ("h2", sent["h2"], "{}", "INTERNAL")])
    a = _ctx(local_stack, dataset, [])
    paused, resume = threading.Event(), threading.Event()
    exists = a.table_exists

    def pause_once(table: str) -> bool:  # A freezes right after its lease and first proof, before reading the output
        if not paused.is_set():
            paused.set()
            resume.wait(120)
        return exists(table)

    a.table_exists = pause_once  # type: ignore[method-assign]
    failures: list[BaseException] = []

    def collect_a() -> None:
        try:
            job_a = aiplatform_v1.BatchPredictionJob(name=job.name, state=aiplatform_v1.JobState.JOB_STATE_SUCCEEDED)
            collect_step.collect(a, job.node, BatchSettings(), job.entry, job_a, NodeOutcome("m"))
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=collect_a)
    thread.start()
    assert paused.wait(60)
    held_table = lease.lease_table(job.ledger.dataset, job.node.responses_table, lease.COLLECT)
    expires = int(bq_client.get_table(held_table).labels[lease.EXPIRES_LABEL])
    while lease.SERVER_CLOCK.now(bq_client) <= expires + 0.5:
        time.sleep(0.5)
    b_outcome = job.collect(BatchSettings())  # B takes the lease over, merges, records, drops the job's tables
    assert (b_outcome.succeeded, b_outcome.failed) == (1, 1)
    resume.set()
    thread.join(120)
    assert len(failures) == 1 and isinstance(failures[0], lease.LeaseLost), failures
    events = job.sql(
        f"select succeeded_count, failed_count, total_tokens, collected_at from `{job.ledger.table}` "
        "where input_table = @t order by updated_at",
        [bigquery.ScalarQueryParameter("t", "STRING", job.input)],
    )
    assert len(events) == 2  # A's SUBMITTING-era insert (job.write) and B's collected event: nothing from A after
    assert (events[-1]["succeeded_count"], events[-1]["failed_count"], events[-1]["total_tokens"]) == (1, 1, 5)


def test_a_job_the_ledger_gave_up_on_is_adopted_when_it_shows_later(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str, job_client: aiplatform_v1.JobServiceClient
) -> None:
    """A run died right after a committed create; the next one did not see the job in the list in time and marked the
    row NOT_SUBMITTED. When the job shows, the submit step adopts it instead of leaving it (and its output) orphaned."""
    ledger = _create_ledger(bq_client, dataset)
    lines: list[str] = []
    ctx = _ctx(local_stack, dataset, lines)
    ctx._job_client_factory = lambda settings, location: job_client
    node = _node(bq_client, dataset)
    settings = BatchSettings()
    input_table = f"{bq_client.project}.{dataset}.m__batch_20261207000000_abcdef_000"
    bq_client.query(f"create table `{input_table}` as select 'h1' as request_hash, '{{}}' as request").result()
    entry = LedgerEntry(
        display_name="dbt-gemini-batch m", dbt_node=node.unique_id, responses_table=node.responses_table,
        gemini_model=settings.gemini_model, vertex_project=bq_client.project, vertex_location=LOCATION,
        input_table=input_table, output_table=f"{input_table}_out", request_count=1,
    )  # fmt: skip
    ledger.insert(entry)
    ledger.update(entry, state="NOT_SUBMITTED", collected_at=dt.datetime.now(dt.UTC))
    created = job_client.create_batch_prediction_job(
        parent=f"projects/{bq_client.project}/locations/{LOCATION}",
        batch_prediction_job=submit_step.job_body(ctx, node, settings, entry),
    )
    unrelated = LedgerEntry(**{**entry.__dict__, "input_table": f"{bq_client.project}.{dataset}.other__batch_x_000"})
    job_client.create_batch_prediction_job(  # another model's job in the same dataset: not ours to adopt
        parent=f"projects/{bq_client.project}/locations/{LOCATION}",
        batch_prediction_job=submit_step.job_body(ctx, node, settings, unrelated),
    )
    with lease.held(ctx, node, lease.SUBMIT) as held:
        adopted = submit_step.adopt_unknown_jobs(ctx, node, settings, held)
        assert [e.job_name for e in adopted] == [created.name]
        assert submit_step.adopt_unknown_jobs(ctx, node, settings, held) == []  # known now
    current = ledger.current(entry)
    assert current is not None and current.job_name == created.name and current.collected_at is None
    assert [e.input_table for e in ledger.uncollected(node.unique_id, node.responses_table)] == [input_table]
    assert any("adopted batch job" in line for line in lines)


@pytest.mark.usefixtures("no_faults")
def test_a_merge_that_meets_a_concurrent_update_is_run_again_and_lands_once(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str
) -> None:
    """BigQuery fails a MERGE that conflicts with another DML on m__responses (a `dbt build` marking unusable answers)
    with "Could not serialize access ... due to concurrent update"; the hook runs it again with backoff."""
    _create_ledger(bq_client, dataset)
    job = Job(bq_client, dataset, "conflict")
    sent = {"h1": _request("one"), "h2": _request("two")}
    job.write(sent, [("h1", sent["h1"], _answer("1"), ""), ("h2", sent["h2"], _answer("2"), "")])
    # h2 failed in an earlier job: its answer now is written by the MERGE (new rows are INSERTs, which never conflict)
    job.sql(
        f"insert into `{job.node.responses_table}` (request_hash, request, response, status, job_name, attempts) "
        "values ('h2', @r, null, 'INTERNAL', 'an earlier job', 1)",
        [bigquery.ScalarQueryParameter("r", "STRING", sent["h2"])],
    )
    message = f"Could not serialize access to table {bq_client.project}:{dataset}.m due to concurrent update"
    conflict = {"after_commit": False, "status": 400, "reason": "invalidQuery", "message": message}
    rules = [{"method": "POST", "path": "/jobs$", "body_contains": f"merge `{job.node.responses_table}`", "times": 2,
              **conflict}]  # fmt: skip
    set_bigquery_faults(local_stack.bigquery_endpoint, rules)
    outcome = job.collect()
    assert [r["fired"] for r in set_bigquery_faults(local_stack.bigquery_endpoint, None)] == [2]
    assert (outcome.succeeded, outcome.failed, outcome.errors) == (2, 0, [])
    assert {h: (status, attempts) for h, (status, attempts, _) in job.responses().items()} == {
        "h1": ("", 1), "h2": ("", 2),
    }  # fmt: skip
