"""The package's usage models price a hand-made ledger the way gemini_batch.prices does, through dbt-bigquery.

A copy of integration_tests builds the ledger models on the session's local stack; the ledger rows are written
directly (the shape the hook writes), so every case is chosen: a price change between two days, a cached-token
discount, a job still in flight, a publisher resource name, and a model with no price.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from gemini_batch.prices import estimate_cost
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

# (invocation, node, gemini_model, finished day or None while in flight, prompt, cached, output, thoughts)
JOBS = [
    ("inv_a", "alpha", "gemini-2.5-flash", dt.date(2026, 11, 20), 1_000_000, 200_000, 300_000, 100_000),
    ("inv_a", "alpha", "gemini-2.5-flash", dt.date(2026, 11, 20), 500_000, 0, 50_000, 0),
    ("inv_a", "alpha", "gemini-2.5-flash", None, None, None, None, None),
    ("inv_b", "beta", "publishers/google/models/gemini-2.5-pro", dt.date(2026, 11, 21), 40_000, 0, 9_000, 30_000),
    ("inv_b", "beta", "my-tuned-model", dt.date(2026, 11, 21), 10_000, 0, 1_000, 0),
    # gemini-3.8-flash's registry price changes on 2027-01-01
    ("inv_c", "gamma", "gemini-3.8-flash", dt.date(2026, 12, 31), 2_000_000, 0, 100_000, 0),
    ("inv_c", "gamma", "gemini-3.8-flash", dt.date(2027, 1, 2), 2_000_000, 0, 100_000, 0),
]
MODELS = ["gemini_batch_job_history", "gemini_batch_usage", "gemini_batch_usage_daily"]


@pytest.fixture()
def project(
    tmp_path: Path, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo
) -> Iterator[DemoProject]:
    project = DemoProject.copy(tmp_path / "integration_tests", stack_env, bq_client, local_stack.vertex_endpoint)
    project.env["GEMINI_BATCH_DATASET"] = project.dataset = f"usage_{project.dataset.removeprefix('demo_')}"
    try:
        yield project
    finally:
        bq_client.delete_dataset(project.dataset, delete_contents=True, not_found_ok=True)


def _literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _write_ledger(project: DemoProject) -> None:
    rows = []
    for i, (invocation, node, model, day, prompt, cached, output, thoughts) in enumerate(JOBS):
        finished = f"timestamp '{day} 12:00:00+00'" if day else "null"
        total = None if prompt is None else prompt + output + thoughts
        rows.append(
            f"('projects/p/locations/us-central1/batchPredictionJobs/{i}', 'model.demo.{node}', {json.dumps(model)}, "
            f"'in_{i}', 'JOB_STATE_{'SUCCEEDED' if day else 'RUNNING'}', 10, "
            + ", ".join(_literal(v) for v in (prompt, output, thoughts, cached, total))
            + f", '{invocation}', timestamp '2026-11-20 08:00:00+00', {finished}, {finished})"
        )
    project.rows(
        "insert into `{ds}.gemini_batch_jobs` (job_name, dbt_node, gemini_model, input_table, state, request_count, "
        "prompt_tokens, output_tokens, thoughts_tokens, cached_tokens, total_tokens, invocation_id, submitted_at, "
        "finished_at, collected_at) values " + ", ".join(rows)
    )


def _expected(overrides: dict[str, Any] | None = None) -> dict[tuple[str, str], float | None]:
    """{(invocation, gemini_model): batch cost} from the Python registry, job by job; None if any job is unpriced."""
    costs: dict[tuple[str, str], float | None] = {}
    for invocation, _node, model, day, prompt, cached, output, thoughts in JOBS:
        key = (invocation, model)
        costs.setdefault(key, 0.0)
        if day is None:
            continue  # in flight: no tokens yet
        cost = estimate_cost(
            model, day, prompt_tokens=prompt, output_tokens=output, thoughts_tokens=thoughts, cached_tokens=cached,
            overrides=overrides,
        )  # fmt: skip
        previous = costs[key]
        costs[key] = None if cost is None or previous is None else previous + cost
    return costs


def _usage(project: DemoProject) -> dict[tuple[str, str], dict[str, Any]]:
    rows = project.rows("select * from `{ds}.gemini_batch_usage`")
    return {(r["invocation_id"], r["gemini_model"]): r for r in rows}


def _test_statuses(project: DemoProject) -> dict[str, str]:
    results = json.loads((project.root / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("test.")}


def test_usage_models_price_a_hand_made_ledger_like_the_python_registry(project: DemoProject) -> None:
    project.dbt("run", "--select", *MODELS)  # its on-run-start hook creates the empty ledger
    _write_ledger(project)

    usage = _usage(project)
    expected = _expected()
    assert set(usage) == set(expected)
    for key, cost in expected.items():
        row = usage[key]
        if cost is None:
            assert row["cost_known"] is False and row["estimated_cost_usd"] is None, row
        else:
            assert row["cost_known"] is True and row["estimated_cost_usd"] == pytest.approx(cost), (key, row)

    flash = usage[("inv_a", "gemini-2.5-flash")]
    assert (flash["jobs"], flash["jobs_collected"], flash["prompt_tokens"]) == (3, 2, 1_500_000)
    # 2.5 Flash: 800k fresh input at half of $0.30, 200k cached at $0.03 (no stacking), 350k output + 100k thinking
    # at half of $2.50; and 500k input at half of $0.30
    assert flash["estimated_cost_usd"] == pytest.approx(0.12 + 0.006 + 0.4375 + 0.125 + 0.075)
    # the two gemini-3.8-flash jobs straddle the price change (rates double on 2027-01-01): 1x + 2x the first one's
    first = estimate_cost("gemini-3.8-flash", dt.date(2026, 12, 31), prompt_tokens=2_000_000, output_tokens=100_000)
    assert first is not None
    assert usage[("inv_c", "gemini-3.8-flash")]["estimated_cost_usd"] == pytest.approx(3 * first)

    daily = project.rows("select * from `{ds}.gemini_batch_usage_daily` where usage_date = '2026-11-21'")
    assert {r["gemini_model"]: r["is_priced"] for r in daily} == {
        "publishers/google/models/gemini-2.5-pro": True,
        "my-tuned-model": False,
    }
    assert [r["estimated_cost_usd"] for r in daily if not r["is_priced"]] == [None]

    # the unpriced model makes the cost_known test warn, and dbt still succeeds
    project.dbt("build", "--select", "gemini_batch_usage")
    assert list(_test_statuses(project).values()) == ["warn"]

    # pricing the tuned model through the var fixes it, without touching the other models' prices
    overrides = {"my-tuned-model": {"input": 1.0, "output": 4.0}}
    project.dbt("build", "--select", *MODELS, "--vars", json.dumps({"gemini_batch_prices": overrides}))
    assert list(_test_statuses(project).values()) == ["pass"]
    usage = _usage(project)
    for key, cost in _expected(overrides).items():
        assert cost is not None and usage[key]["estimated_cost_usd"] == pytest.approx(cost), key


BAD_VARS = {
    '{"m": {"input": 1}}': "'m' needs 'output'",
    '{"m": {"input": 1, "output": 2, "ouput_long": 3}}': "'m' has an unknown field 'ouput_long'",
    '{"m": {"input": "cheap", "output": 2}}': "'m' field 'input' must be a non-negative number",
    '{"m": {"input": 1, "output": 2, "effective_to": "soon"}}': "'m' field 'effective_to' must be a date",
    '{"m": [{"input": 1, "output": 2}, {"input": 3, "output": 4, "effective_from": "2027-01-01"}]}': (
        "the prices of 'm' overlap"
    ),
}


def test_a_bad_price_var_fails_compilation_naming_model_and_field(project: DemoProject) -> None:
    accepted = {}
    for value, message in BAD_VARS.items():
        result = project.dbt(
            "compile", "--select", "gemini_batch_job_history", "--vars", f'{{"gemini_batch_prices": {value}}}', ok=False
        )
        if result.returncode == 0 or message not in result.output:
            accepted[value] = result.output[-1500:]
    assert not accepted, accepted
