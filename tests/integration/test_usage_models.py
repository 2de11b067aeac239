"""The package's usage models price a hand-made ledger the way gemini_batch.prices does, through dbt-bigquery.

A copy of integration_tests builds the ledger models on the session's local stack; the ledger rows are written
directly (the shape the hook writes), so every case is chosen: a price change between two days, a cached-token
discount, a job still in flight, a publisher resource name, a model with no price, a model Vertex's list prices
apart from the Developer API's, and a job with a request above the long-context threshold.
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
from gemini_batch.prices import estimate_cost, price_for
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
    # 2.0 Flash is in both price lists: Vertex's (0.15/0.60) prices it, not the Developer API's (0.10/0.40)
    ("inv_d", "delta", "gemini-2.0-flash", dt.date(2026, 11, 22), 1_000_000, 0, 100_000, 0),
    # one request of the job had a 500k-token prompt: its tokens pay 2.5 Pro's long-context rates
    ("inv_e", "epsilon", "gemini-2.5-pro", dt.date(2026, 11, 22), 600_000, 50_000, 30_000, 5_000),
]
# job index -> the tokens of its requests above the model's long_context_threshold (prompt, cached, output, thoughts)
LONG_CONTEXT = {8: (500_000, 40_000, 10_000, 5_000)}
LONG_NAMES = ("prompt_tokens", "cached_tokens", "output_tokens", "thoughts_tokens")
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
        long = LONG_CONTEXT.get(i, (0, 0, 0, 0) if day else (None, None, None, None))
        rows.append(
            f"('projects/p/locations/us-central1/batchPredictionJobs/{i}', 'model.demo.{node}', {json.dumps(model)}, "
            f"'in_{i}', 'JOB_STATE_{'SUCCEEDED' if day else 'RUNNING'}', 10, "
            + ", ".join(_literal(v) for v in (prompt, output, thoughts, cached, total, *long))
            + f", '{invocation}', timestamp '2026-11-20 08:00:00+00', {finished}, {finished})"
        )
    project.rows(
        "insert into `{ds}.gemini_batch_jobs` (job_name, dbt_node, gemini_model, input_table, state, request_count, "
        "prompt_tokens, output_tokens, thoughts_tokens, cached_tokens, total_tokens, "
        + "".join(f"long_context_{name}, " for name in LONG_NAMES)
        + "invocation_id, submitted_at, "
        "finished_at, collected_at) values " + ", ".join(rows)
    )


def _expected(overrides: dict[str, Any] | None = None) -> dict[tuple[str, str], float | None]:
    """{(invocation, gemini_model): batch cost} from the Python registry, job by job; None if any job is unpriced."""
    costs: dict[tuple[str, str], float | None] = {}
    for i, (invocation, _node, model, day, prompt, cached, output, thoughts) in enumerate(JOBS):
        key = (invocation, model)
        costs.setdefault(key, 0.0)
        if day is None:
            continue  # in flight: no tokens yet
        price = price_for(model, day, overrides)
        totals = {
            "prompt_tokens": prompt,
            "output_tokens": output,
            "thoughts_tokens": thoughts,
            "cached_tokens": cached,
        }
        long = dict(zip(LONG_NAMES, LONG_CONTEXT.get(i, (0, 0, 0, 0)), strict=True))
        cost = None if price is None else price.cost_with_long_context(totals, long)
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

    # 2.0 Flash priced from Vertex's list; 2.5 Flash, which has only the Developer API's, says so
    history = {
        r["gemini_model"]: r["price_list"] for r in project.rows("select * from `{ds}.gemini_batch_job_history`")
    }
    assert history["gemini-2.0-flash"] == "vertex" and history["gemini-2.5-flash"] == "gemini_api"
    assert history["my-tuned-model"] is None
    # 1M input at half of Vertex's $0.15, 100k output at half of $0.60 (the Developer API's list would be 0.05 + 0.02)
    assert usage[("inv_d", "gemini-2.0-flash")]["estimated_cost_usd"] == pytest.approx(0.075 + 0.03)
    # 2.5 Pro at half price: the other requests' 90k fresh input, 10k cached (no batch discount) and 20k output at the
    # base rates ($1.25, $0.125, $10); the long request's 460k fresh input, 40k cached, 10k output + 5k thinking at
    # the long-context rates ($2.50, $0.25, $15)
    base = (90_000 * 1.25 / 2 + 10_000 * 0.125 + 20_000 * 10.0 / 2) / 1e6
    long = (460_000 * 2.50 / 2 + 40_000 * 0.25 + 15_000 * 15.0 / 2) / 1e6
    assert usage[("inv_e", "gemini-2.5-pro")]["estimated_cost_usd"] == pytest.approx(base + long)

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


def test_collect_records_the_tokens_of_long_requests_and_the_usage_models_price_them_long(demo: DemoProject) -> None:
    # 2.5 Pro's long-context tier starts above 200k prompt tokens; the emulator counts 4 characters a token, so the
    # first prompt (~225k tokens) is long and the second one is not.
    def request(text_sql: str) -> str:
        return 'concat(\'{"contents": [{"role": "user", "parts": [{"text": "\', ' + text_sql + ", '\"}]}]}')"

    long_request, short_request = request("repeat('word ', 180000)"), request("'short question'")
    demo.add_model(
        "demo/batch/long_prompts.sql",
        "{{ config(materialized='gemini_batch', gemini_model='gemini-2.5-pro') }}\n"
        + f"select 1 as k, {long_request} as request\n"
        + f"union all select 2 as k, {short_request} as request\n",
    )
    demo.gb("run", "--select", "long_prompts")
    (job,) = demo.ledger()
    long_prompt = demo.scalar(
        "select max(cast(json_value(response, '$.usageMetadata.promptTokenCount') as int64)) "
        "from `{ds}.long_prompts__responses`"
    )
    assert long_prompt > 200_000 and job["prompt_tokens"] > long_prompt
    assert job["long_context_prompt_tokens"] == long_prompt
    assert 0 < job["long_context_output_tokens"] < job["output_tokens"]

    demo.dbt("run", "--select", "gemini_batch_job_history")
    (history,) = demo.rows("select * from `{ds}.gemini_batch_job_history`")
    price = price_for("gemini-2.5-pro", history["finished_at"].date())
    assert price is not None
    totals = {k: job[k] for k in ("prompt_tokens", "output_tokens", "thoughts_tokens", "cached_tokens")}
    long = {k: job[f"long_context_{k}"] for k in totals}
    assert history["estimated_cost_usd"] == pytest.approx(price.cost_with_long_context(totals, long))
    assert history["estimated_cost_usd"] > price.cost(**totals)  # more than the base rates alone
