"""A create Vertex refuses (a Gemini model that does not exist) is recorded as REFUSED: no job, no requests, cost 0,
said once; the usage models price it at 0 and the cost_known test does not warn about it."""

from __future__ import annotations

import pytest

from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration


def test_a_refused_create_is_recorded_once_with_nothing_billed(demo: DemoProject) -> None:
    demo.add_review_batch_model("unknown_gemini", "meta={'gemini_model': 'gemini-9-ultra'}")
    run = demo.gb("run", "--select", "+unknown_gemini", ok=False)
    assert run.returncode == 1, run.output[-3000:]
    refusals = {line for line in run.output.splitlines() if "Vertex rejected the batch job" in line}
    assert len(refusals) == 1 and "gemini-9-ultra" in refusals.pop(), run.output[-3000:]  # said live and at the end
    (job,) = demo.ledger()
    assert job["state"] == "REFUSED" and job["job_name"] is None and job["collected_at"] is not None
    assert job["request_count"] == 0 and job["total_tokens"] == 0 and "create refused" in job["error"]
    # the rows were never sent: still pending, and no later command reports the refusal again
    status = demo.gb("status", "--select", "unknown_gemini")
    assert "Vertex rejected" not in status.output and "0 in flight in 0 job(s)" in status.output
    assert "REFUSED" in status.output and "364 pending" in status.output, status.output
    collect = demo.gb("collect", "--select", "unknown_gemini")
    assert "rejected" not in collect.output and "refused" not in collect.output, collect.output
    usage = demo.dbt("build", "--select", "gemini_batch_job_history", "gemini_batch_usage")
    assert "WARN=0" in usage.output and "ERROR=0" in usage.output, usage.output[-3000:]
    (row,) = demo.rows(
        "select requests, cost_known, estimated_cost_usd from `{ds}.gemini_batch_usage` "
        "where model_name = 'unknown_gemini'"
    )
    assert row == {"requests": 0, "cost_known": True, "estimated_cost_usd": 0}
