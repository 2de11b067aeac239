"""A submission's pending rows and chunks through the real clients: the pending rows are selected by the states the
build staged while the ledger shows no answer since (batch/plan.py count_requests), and a chunk reads the answer
cache only when the ledger says another job (or an inline answer) of the cache moved since the pending rows were
selected, and then leaves out the hashes answered meanwhile (batch/submit.py answered_since_plan)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from gemini_batch.batch import submit
from gemini_batch.batch.common import NodeOutcome
from gemini_batch.batch.plan import count_requests, count_sql, pending_from
from gemini_batch.batch.published_counts import PUBLISHED_COUNTS_PREFIX, remember_published_counts
from gemini_batch.ledger import LedgerEntry
from tests.integration.demo_project import DemoProject, recording_session

pytestmark = pytest.mark.integration


def test_a_later_chunk_reads_the_cache_only_after_another_job_moved_and_leaves_out_what_it_answered(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo.dbt("run", "--select", "+review_insights")
    session, recorder, node = recording_session(demo, monkeypatch)
    ctx = session.runner.ctx
    settings = dataclasses.replace(session.settings(node), max_requests_per_job=100)
    outcome = NodeOutcome(node.unique_id)
    plan = submit.plan_chunks(ctx, node, settings, outcome)
    assert plan is not None and len(plan.queued) >= 3

    def input_statements() -> list[str]:
        queries = [
            b["configuration"]["query"]["query"] for b in recorder.bodies if "query" in b.get("configuration", {})
        ]
        return [q for q in queries if "create table" in q and f"from `{plan.pending_table}` as pending" in q]

    # nothing moved since the plan: the first chunk is its bucket of the pending rows, the cache is not read
    first_bucket = plan.queued[0]
    first = submit.submit_chunk(ctx, node, settings, plan, outcome)
    (statement,) = input_statements()
    assert node.responses_table not in statement
    assert first.request_count == plan.sizes[first_bucket]

    # another job answers one hash of the next bucket, and says so in the ledger (as a collect does, after its write)
    bucket = plan.queued[0]
    (answered,) = demo.rows(f"select request_hash from `{plan.pending_table}` where bucket = {bucket} limit 1")
    demo.rows(
        f"insert into `{node.responses_table}` (request_hash, status, attempts, updated_at) "
        f"values ('{answered['request_hash']}', '', 1, current_timestamp())"
    )
    ctx.ledger.insert(
        LedgerEntry(
            display_name="another run's job",
            dbt_node=node.unique_id,
            responses_table=node.responses_table,
            gemini_model=settings.gemini_model,
            vertex_project="local-project",
            vertex_location="us-central1",
            input_table=f"{node.dataset}.another_runs_input",
            request_count=1,
        )
    )
    second = submit.submit_chunk(ctx, node, settings, plan, outcome)
    assert node.responses_table in input_statements()[-1]
    assert second.request_count == plan.sizes[bucket] - 1
    sent = {r["request_hash"] for r in demo.rows(f"select request_hash from `{second.input_table}`")}
    assert answered["request_hash"] not in sent


def _build_and_take_the_handed_count(demo: DemoProject) -> tuple[str, str]:
    """`dbt run` of review_insights as under the hook (GEMINI_BATCH_HOOK_ACTIVE=1): its debug log line that hands the
    staged count over (_publish_counts), kept as the hook's event callback keeps it; (that line, dbt's invocation)."""
    demo.env["GEMINI_BATCH_HOOK_ACTIVE"] = "1"
    try:
        output = demo.dbt("run", "--debug", "--select", "review_insights").output
    finally:
        del demo.env["GEMINI_BATCH_HOOK_ACTIVE"]
    lines = [line for line in output.splitlines() if PUBLISHED_COUNTS_PREFIX in line]
    assert len(lines) == 1, output[-3000:]
    message = lines[0][lines[0].index(PUBLISHED_COUNTS_PREFIX) :]
    assert remember_published_counts(message)
    return message, json.loads(message[len(PUBLISHED_COUNTS_PREFIX) :])["invocation_id"]


def test_new_rows_are_selected_by_their_staged_state_while_the_ledger_shows_no_answer_since_the_build(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A +1% run: the materialization hands the hook its count of the staged states with the ledger's mark taken
    before the states were read. With the same mark under the lease, the hook counts nothing and selects the pending
    rows without reading the answer cache; after an answer and its ledger event landed since the build, it counts
    and selects against the cache again and leaves that answer's hash out."""
    demo.gb("run", "--select", "+review_insights")
    demo.append_reviews([f"a review added later, number {i}" for i in range(6)])
    demo.dbt("seed")
    demo.dbt("run", "--select", "stg_shop__reviews")
    message, invocation = _build_and_take_the_handed_count(demo)
    handed = json.loads(message[len(PUBLISHED_COUNTS_PREFIX) :])
    assert (handed["pending"], handed["new"], handed["retry"]) == (6, 6, 0) and handed["ledger_mark"][0] > 0

    session, recorder, node = recording_session(demo, monkeypatch, invocation_id=invocation)
    ctx, settings = session.runner.ctx, session.settings(node)
    live = count_requests(ctx, node, settings)  # takes the handed count: no counting statement
    assert live.ledger_mark is not None and (live.pending, live.new, live.retries_due) == (6, 6, 0)
    (statement,) = [b["configuration"]["query"]["query"] for b in recorder.bodies if "configuration" in b]
    assert "gemini_batch_jobs" in statement and f"`{node.responses_table}`" not in statement  # the ledger's mark only
    (counted,) = ctx.sql(
        count_sql(f"`{node.requests_table}`", f"`{node.responses_table}`"),
        node=node.unique_id, max_attempts=settings.max_attempts,
    )  # fmt: skip
    assert (live.rows, live.hashes, live.pending, live.answered) == (
        counted["n"],
        counted["hashes"],
        counted["pending"],
        counted["answered"],
    )

    remember_published_counts(message)  # handed over again, as in the run: plan_chunks takes it
    before = len(recorder.bodies)
    plan = submit.plan_chunks(ctx, node, settings, NodeOutcome(node.unique_id))
    assert plan is not None and plan.states_only and plan.pending == 6
    statements = [b["configuration"]["query"]["query"] for b in recorder.bodies[before:] if "configuration" in b]
    assert any(plan.pending_table in q for q in statements)
    # the cache is not read, but for the spend guards' one narrow column (the answers the rows do not use)
    (guards,) = [q for q in statements if f"`{node.responses_table}`" in q]
    assert guards.startswith("select countif(status = '') as answered from"), guards
    live_pending = f"select distinct requests.request_hash {pending_from(node)}"
    expected = {r["request_hash"] for r in demo.rows(live_pending.replace("@max_attempts", str(settings.max_attempts)))}
    assert {r["request_hash"] for r in demo.rows(f"select request_hash from `{plan.pending_table}`")} == expected
    ctx.bq.delete_table(plan.pending_table)

    # an answer to one of the new hashes lands after the build, and its writer says so in the ledger
    answered_hash = sorted(expected)[0]
    message, invocation = _build_and_take_the_handed_count(demo)
    demo.rows(
        f"insert into `{node.responses_table}` (request_hash, status, attempts, updated_at) "
        f"values ('{answered_hash}', '', 1, current_timestamp())"
    )
    ctx.ledger.insert(
        LedgerEntry(
            display_name="another run's job", dbt_node=node.unique_id, responses_table=node.responses_table,
            gemini_model=settings.gemini_model, vertex_project="local-project", vertex_location="us-central1",
            input_table=f"{node.dataset}.another_runs_input", request_count=1,
        )
    )  # fmt: skip
    session, recorder, node = recording_session(demo, monkeypatch, invocation_id=invocation)
    ctx = session.runner.ctx
    plan = submit.plan_chunks(ctx, node, settings, NodeOutcome(node.unique_id))
    assert plan is not None and not plan.states_only and plan.pending == 5
    pending = {r["request_hash"] for r in demo.rows(f"select request_hash from `{plan.pending_table}`")}
    assert pending == expected - {answered_hash}
    ctx.bq.delete_table(plan.pending_table)
