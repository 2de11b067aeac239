"""`status` on a messy project: every model it can report, one line per model it cannot and why (exit 1 only for
those), "no failed requests" when there are none, cancelled jobs not in flight; and every configuration problem of
the selection named in one run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, set_emulator_config

pytestmark = pytest.mark.integration

THREE_MISTAKES = "meta={'gemini_modle': 'gemini-2.5-flash', 'max_attempts': 0, 'transport': 's3'}"


@pytest.fixture()
def slow_queue(local_stack: StackInfo) -> Iterator[None]:
    set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 300})
    yield
    set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 0.2})


def test_every_configuration_problem_of_the_selection_in_one_run(demo: DemoProject) -> None:
    demo.add_review_batch_model("three_mistakes", THREE_MISTAKES)
    # downstream of the first: dbt skips it, the hook still names its problem
    demo.add_model(
        "demo/batch/one_mistake.sql",
        "{{ config(materialized='gemini_batch', meta={'max_requests_per_job': 0}) }}\n"
        "select review_id, {{ gemini_batch.request(prompt='review_text_clean') }} as request\n"
        "from {{ ref('stg_shop__reviews') }} where review_id in (select review_id from {{ ref('three_mistakes') }})\n",
    )
    problems = (
        "model three_mistakes: 3 settings problems: (1) meta key 'gemini_modle' is not a gemini_batch setting",
        "(2) max_attempts=0 (from meta) must be at least 1",
        '(3) transport="s3" (from meta) must be bigquery or gcs',
        "model one_mistake: max_requests_per_job=0 (from meta) must be between 1 and 200000",
    )
    run = demo.gb("run", ok=False)
    output = " ".join(run.output.split())  # dbt wraps long messages
    assert run.returncode != 0, run.output[-3000:]
    assert all(p in output for p in problems), run.output[-3000:]
    assert "2 gemini_batch model(s) of the selection have configuration problems: nothing was built" in output
    assert not demo.bq.list_tables(f"{demo.bq.project}.{demo.dataset}", max_results=1000) or not any(
        t.table_id.startswith(("three_mistakes", "one_mistake", "review_insights"))
        for t in demo.bq.list_tables(f"{demo.bq.project}.{demo.dataset}")
    )
    for command in ("plan", "submit"):
        result = demo.gb(command, ok=False)
        assert result.returncode == 2 and all(p in result.output for p in problems), (command, result.output[-3000:])
    # plain dbt (dbt Cloud, Fusion): on-run-start names every selected model's problems in one error too
    plain = demo.dbt("run", ok=False)
    assert all(p in " ".join(plain.output.split()) for p in problems), plain.output[-3000:]


def test_status_reports_every_model_it_can_and_one_line_per_model_it_cannot(
    demo: DemoProject, slow_queue: None
) -> None:
    # before anything was built: no ledger, no model table; said, no traceback
    demo.dbt("parse")
    fresh = demo.gb("status", "--failed")
    assert "review_insights: not built yet" in fresh.output and "Traceback" not in fresh.output
    demo.dbt("run", "--select", "+review_insights")
    demo.gb("submit", "--select", "review_insights")
    demo.add_review_batch_model("three_mistakes", THREE_MISTAKES)
    demo.dbt("parse")
    status = demo.gb("status", ok=False)
    assert status.returncode == 1, status.output[-3000:]
    lines = status.output.splitlines()
    healthy = [line for line in lines if line.startswith("review_insights: ")]
    assert len(healthy) == 1 and " in flight in 1 job(s)" in healthy[0] and " 0 in flight" not in healthy[0]
    cannot = [line for line in lines if "cannot report" in line]
    assert len(cannot) == 1 and "model three_mistakes: 3 settings problems" in cannot[0], status.output[-3000:]
    assert "Traceback" not in status.output
    # a cancelled job is not in flight: its requests are pending again, before any collect
    demo.gb("cancel", "--select", "review_insights")
    after = demo.gb("status", "--select", "review_insights").output
    line = next(line for line in after.splitlines() if line.startswith("review_insights: "))
    assert " 0 in flight in 0 job(s)" in line and not line.startswith("review_insights: 0 pending"), after
    assert "1 job(s) cancelled, failed or expired and not collected yet" in after
    none_failed = demo.gb("status", "--failed", "--select", "review_insights")
    assert none_failed.output.strip().endswith("no failed requests in review_insights"), none_failed.output
