"""Spend control through the real clients on the local stack: the plan before a run, the guards, max_error_ratio and
the end-of-run artifacts (issue 9)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, set_emulator_config

pytestmark = pytest.mark.integration

MODEL = "demo/batch/review_insights.sql"


@pytest.fixture()
def row_failures(local_stack: StackInfo) -> Iterator[None]:
    yield
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 0.0})


def read_plan(demo: DemoProject) -> dict:
    return json.loads((demo.root / "target" / "gemini_batch_plan.json").read_text())["models"][0]


def read_results(demo: DemoProject) -> dict:
    return json.loads((demo.root / "target" / "gemini_batch_results.json").read_text())["models"][0]


def test_plan_equals_what_the_run_sends_and_estimates_its_tokens(demo: DemoProject) -> None:
    demo.dbt("run", "--select", "+review_insights", "--exclude", "review_insights")
    demo.gb("plan", "--select", "review_insights")
    first = read_plan(demo)
    assert first["answered"] == 0 and first["retries_due"] == 0
    assert first["to_send"] == first["new"] == first["distinct_requests"] > 0
    demo.gb("run", "--select", "review_insights")
    jobs = demo.ledger()
    assert sum(j["request_count"] for j in jobs) == first["to_send"]
    reported = sum(j["prompt_tokens"] for j in jobs)
    assert abs(first["input_tokens"] - reported) <= 0.1 * reported

    results = read_results(demo)
    assert results["sent"] == first["to_send"]
    assert results["answered"] == sum(j["succeeded_count"] for j in jobs)
    assert results["tokens_in"] == reported

    # +10 rows: the plan says 10 new, the run sends 10
    demo.append_reviews([f"added review number {i}, quite good value" for i in range(10)])
    demo.dbt("seed")
    demo.dbt("run", "--select", "+review_insights", "--exclude", "review_insights")
    demo.gb("plan", "--select", "review_insights")
    more = read_plan(demo)
    assert more["to_send"] == 10 and more["resent_changed"] == 0
    assert more["output_tokens"] > 0 and "average" in more["output_tokens_source"]
    demo.gb("run", "--select", "review_insights")
    assert demo.ledger()[-1]["request_count"] == 10
    # unchanged: nothing sent, and the summary says every distinct request came from the cache (not "unknown")
    demo.gb("run", "--select", "review_insights")
    unchanged = read_results(demo)
    assert (unchanged["sent"], unchanged["jobs"]) == (0, 0)
    assert unchanged["cached"] == more["distinct_requests"] - unchanged["given_up"]

    # a prompt change: every answered key would be re-sent; on_resend=error stops the run before any job
    path = demo.root / "models" / MODEL
    path.write_text(path.read_text().replace("Classify", "Please classify", 1))
    demo.add_review_model_meta("'on_resend': 'error'")
    demo.gb("plan", "--select", "review_insights")
    changed = read_plan(demo)
    assert changed["resent_changed"] == changed["to_send"] == changed["distinct_requests"]
    jobs_before = len(demo.ledger())
    stopped = demo.gb("run", "--select", "review_insights", ok=False)
    assert stopped.returncode == 1
    assert "max_resend_share" in stopped.output and "nothing was submitted" in stopped.output
    assert len(demo.ledger()) == jobs_before


def test_guards_stop_before_any_job_and_allow_once(demo: DemoProject) -> None:
    demo.add_review_model_meta("'max_requests_per_run': 5")
    stopped = demo.gb("run", "--select", "+review_insights", ok=False)
    assert stopped.returncode == 1
    assert "max_requests_per_run=5" in stopped.output, stopped.output[-2500:]
    assert "--allow-over-budget" in stopped.output
    assert demo.ledger() == []
    demo.gb("run", "--select", "review_insights", "--allow-over-budget")
    assert len(demo.ledger()) == 1


@pytest.mark.parametrize(("ratio", "code"), [(0.2, 1), (0.5, 0)])
def test_max_error_ratio(
    demo: DemoProject, local_stack: StackInfo, row_failures: None, ratio: float, code: int
) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 0.3})
    demo.add_review_model_meta(f"'max_error_ratio': {ratio}")
    result = demo.gb("run", "--select", "+review_insights", ok=False)
    assert result.returncode == code, result.output[-3000:]
    failed = int(demo.scalar("select count(*) from `{ds}.review_insights__responses` where status != ''"))
    assert failed > 0
    failed_lines = [line for line in demo.gb("status", "--select", "review_insights", "--failed").output.splitlines()
                    if line.startswith("review_insights\t")]  # fmt: skip
    keyed_rows = int(
        demo.scalar(
            "select count(*) from `{ds}.review_insights__requests` as q "
            "join `{ds}.review_insights__responses` as r using (request_hash) where r.status != ''"
        )
    )
    assert len(failed_lines) == keyed_rows
    assert read_results(demo)["failed"] == failed


def test_all_rows_failing_exits_1(demo: DemoProject, local_stack: StackInfo, row_failures: None) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 1.0})
    result = demo.gb("run", "--select", "+review_insights", ok=False)
    assert result.returncode == 1
    assert "every one of the" in result.output


def test_a_model_without_max_output_tokens_is_estimated_near_its_cost_and_not_blocked(demo: DemoProject) -> None:
    # gemini-2.5-flash (thinks by default), a text answer, no max_output_tokens: the 65,535-token ceiling put the
    # estimate ~100x over the cost before (issue 20); a $1 guard must let the first run through.
    demo.add_review_batch_model("open_answers", "meta={'max_estimated_cost_usd': 1.0}")
    demo.dbt("run", "--select", "+open_answers", "--exclude", "open_answers")
    demo.gb("plan", "--select", "open_answers")
    first = read_plan(demo)
    assert (
        "no answered history" in first["output_tokens_source"]
        and "typical text answer" in first["output_tokens_source"]
    )
    low, likely, ceiling = (
        first[k] for k in ("estimated_cost_low_usd", "estimated_cost_usd", "estimated_cost_ceiling_usd")
    )
    assert 0 < low < likely < 1.0 < ceiling  # the ceiling is shown beside the estimate, not guarded on
    assert first["thinking_tokens"] > 0  # thinking from the default (dynamic) budget
    demo.gb("run", "--select", "open_answers")
    actual = read_results(demo)["estimated_cost_usd"]
    assert actual / 2 <= likely <= 2 * actual, (likely, actual)

    # with answers, the next plan uses the model's own history
    demo.append_reviews([f"another added review {i}, the zip broke" for i in range(20)])
    demo.dbt("seed")
    demo.dbt("run", "--select", "+open_answers", "--exclude", "open_answers")
    demo.gb("plan", "--select", "open_answers")
    more = read_plan(demo)
    assert more["to_send"] == 20 and "answered requests" in more["output_tokens_source"]
    assert more["estimated_cost_low_usd"] <= more["estimated_cost_usd"] < more["estimated_cost_ceiling_usd"]
    per_row = actual / first["to_send"]
    assert per_row / 2 <= more["estimated_cost_usd"] / 20 <= 2 * per_row
