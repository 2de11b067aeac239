"""One end-of-run summary, from the ledger, counting the jobs of an earlier run that this run collected (with their
cost), in agreement with target/gemini_batch_results.json and the usage model; `submit` says nothing of --no-wait."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from gemini_batch.batch.plan import by_state_count_sql, count_requests, count_sql
from gemini_batch.local.stack import StackInfo
from gemini_batch.spend.estimate import plan_model
from gemini_batch.spend.report import report_run
from tests.integration.demo_project import DemoProject, recording_session, set_emulator_config

pytestmark = pytest.mark.integration


def test_a_run_that_collects_an_earlier_runs_job_reports_it_once_with_its_cost(
    demo: DemoProject, local_stack: StackInfo
) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 5})
    try:
        demo.dbt("run", "--select", "+review_insights")
        submitted = demo.gb("submit", "--select", "review_insights")
        assert "--no-wait" not in submitted.output and "not waited for (`submit --wait` waits)" in submitted.output
    finally:
        set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 0.2})
    later = demo.gb("run", "--select", "+review_insights")
    assert later.output.count("gemini_batch: run summary:") == 1 and "gemini_batch: summary:" not in later.output
    (job,) = demo.ledger()
    assert job["collected_at"] is not None
    results = json.loads((demo.root / "target" / "gemini_batch_results.json").read_text())
    (row,) = [r for r in results["models"] if r["model"] == "review_insights"]
    assert row["jobs"] == 1 and row["sent"] == job["request_count"] and row["answered"] == job["succeeded_count"]
    assert row["tokens_in"] == job["prompt_tokens"] and row["estimated_cost_usd"] > 0
    demo.dbt("run", "--select", "gemini_batch_job_history", "gemini_batch_usage")
    cost = demo.scalar("select sum(estimated_cost_usd) from `{ds}.gemini_batch_usage`")
    assert cost == pytest.approx(row["estimated_cost_usd"], rel=1e-6)


def test_an_unchanged_run_counts_the_cache_once_for_its_plan_and_its_summary(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan's count of rows, hashes, pending and given up is the summary's too when the run sent and merged
    nothing: at 10M answers each such count reads ~1.3 GiB of hash columns (benchmarks/bill_model.py)."""
    demo.gb("run", "--select", "+review_insights")
    session, recorder, node = recording_session(demo, monkeypatch)
    outcome = session.runner.process(node, session.settings(node), wait=True)
    assert outcome.ok and not outcome.jobs
    (row,) = report_run(session, [node.name])

    queries = [b["configuration"]["query"]["query"] for b in recorder.bodies if "query" in b.get("configuration", {})]
    counts = [q for q in queries if "as pending" in q and node.responses_table in q]
    assert len(counts) == 1, counts
    rows, hashes = demo.rows(
        "select count(*) as n, count(distinct request_hash) as h from `{ds}.review_insights__requests`"
    )[0].values()
    assert (row["requests"], row["cached"], row["pending"], row["given_up"], row["jobs"]) == (rows, hashes, 0, 0, 0)


def test_an_unchanged_dbt_gemini_batch_run_counts_the_cache_once_in_the_materialization(demo: DemoProject) -> None:
    """`dbt-gemini-batch run` of an unchanged model: the materialization counts its staged rows' states
    (_count_staged, "as unjudged_requests", which reads neither the hashes nor the cache) and hands the count to the
    hook (_publish_counts), so neither the hook's plan nor the run summary counts the cache ("as exhausted"); the
    summary's figures are still the model's. A run with requests pending (here the first) is counted by the hook."""
    responses = demo.table("review_insights__responses")

    def counts_since(started: dt.datetime) -> tuple[int, int]:
        texts = [
            str(job.query)
            for job in demo.bq.list_jobs()
            if job.created
            and job.created >= started  # the local BigQuery lists every job, whatever the time given
            and getattr(job, "query", None)
        ]
        staged = sum("as unjudged_requests" in t and responses not in t.replace("`", "") for t in texts)
        return staged, sum("as exhausted" in t and responses in t.replace("`", "") for t in texts)

    started = dt.datetime.now(dt.UTC)
    demo.gb("run", "--select", "+review_insights")
    materialization, hook = counts_since(started)
    assert materialization == 0 and hook >= 1, (materialization, hook)  # a first run: the hook counts what it sends

    started = dt.datetime.now(dt.UTC)
    demo.gb("run", "--select", "review_insights")
    assert counts_since(started) == (1, 0)
    (summary,) = json.loads((demo.root / "target" / "gemini_batch_results.json").read_text())["models"]
    rows, hashes = demo.rows(
        "select count(*) as n, count(distinct request_hash) as h from `{ds}.review_insights__requests`"
    )[0].values()
    assert (summary["requests"], summary["cached"], summary["sent"], summary["pending"]) == (rows, hashes, 0, 0)


def test_a_run_that_sends_counts_the_cache_once_and_its_guards_plan_is_the_same_as_counted_apart(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spend guards' plan takes the submission's count (rows, hashes, answered, new, retries, given up) and
    measures the re-sent share from the cache's status column: the same figures as counting again, one statement
    fewer over the hash columns of both tables (benchmarks/bill_model.py, +1% run)."""
    demo.gb("run", "--select", "+review_insights")
    # rows answered and new rows: the count that reads the cache for the rows not answered when built only (the
    # row states) says what the count over every row says
    demo.append_reviews([f"a review added later, number {i}" for i in range(7)])
    demo.dbt("seed")
    demo.dbt("run", "--select", "+review_insights")
    session, recorder, node = recording_session(demo, monkeypatch)
    ctx, settings = session.runner.ctx, session.settings(node)
    params = {"node": node.unique_id, "max_attempts": settings.max_attempts}
    (by_state,) = ctx.sql(by_state_count_sql(node), **params)
    (whole,) = ctx.sql(count_sql(f"`{node.requests_table}`", f"`{node.responses_table}`"), **params)
    assert dict(by_state) == dict(whole) and whole["new"] == 7 and whole["answered"] > 0

    path = demo.root / "models" / "demo/batch/review_insights.sql"
    path.write_text(path.read_text().replace("Classify", "Please classify", 1))  # every answered key re-sent
    demo.dbt("run", "--select", "review_insights")

    shared = plan_model(ctx, node, settings, None, estimate=False, counts=count_requests(ctx, node, settings))
    apart = plan_model(ctx, node, settings, None, estimate=False)
    assert shared.as_dict() == apart.as_dict()
    # the answers no row uses any more, as they were counted before (a join of the whole cache with the model)
    unused = demo.rows(
        "select count(distinct if(requests.request_hash is null, answers.request_hash, null)) as unused, "
        "count(distinct answers.request_hash) as answered_before "
        "from `{ds}.review_insights__responses` as answers "
        "left join `{ds}.review_insights__requests` as requests on requests.request_hash = answers.request_hash "
        "where answers.status = ''"
    )[0]
    assert shared.answered_before == unused["answered_before"] > 0
    assert (
        shared.resent_changed == min(shared.new, unused["unused"]) == shared.distinct_requests - 7
    )  # 7 never answered

    before = len(recorder.bodies)
    outcome = session.runner.process(node, settings, wait=True)
    assert outcome.ok and outcome.submitted_requests == shared.new
    queries = [
        b["configuration"]["query"]["query"] for b in recorder.bodies[before:] if "query" in b.get("configuration", {})
    ]
    counts = [q for q in queries if "count(" in q and node.requests_table in q and node.responses_table in q]
    assert len(counts) == 1, counts
