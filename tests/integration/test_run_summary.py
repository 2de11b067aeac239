"""One end-of-run summary, from the ledger, counting the jobs of an earlier run that this run collected (with their
cost), in agreement with target/gemini_batch_results.json and the usage model; `submit` says nothing of --no-wait."""

from __future__ import annotations

import json

import pytest

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, set_emulator_config

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
