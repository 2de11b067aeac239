"""A submission's chunks written one after another through the real clients: a chunk reads the answer cache only
when the ledger says another job (or an inline answer) of the cache moved since the pending rows were selected, and
then leaves out the hashes answered meanwhile (batch/submit.py answered_since_plan)."""

from __future__ import annotations

import dataclasses

import pytest

from gemini_batch.batch import submit
from gemini_batch.batch.common import NodeOutcome
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
