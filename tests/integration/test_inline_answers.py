"""answer_with inline / auto through dbt-bigquery against the local stack: a plain `dbt build` (no CLI, no dbtRunner
callback) answers small deltas with AI.GENERATE into the same answer cache, ledger and usage models, and the next
`dbt-gemini-batch build` sends nothing; a US multi-region dataset works with inline (the location rule is for batch
jobs only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.jobs import JobRunner
from gemini_batch.emulator.responders import make_responder
from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

WORDS = ["glows warmly", "flickers", "is bright", "broke", "works", "hums", "is dim", "is great", "is ok", "died"]
NEW_REVIEWS = [f"Inline review number {i}: the lamp {word} and shipping was fast." for i, word in enumerate(WORDS)]


def test_plain_dbt_build_answers_new_rows_inline_and_the_hook_then_sends_nothing(demo: DemoProject) -> None:
    demo.add_review_batch_model(
        "inline_reviews", "meta={'answer_with': 'auto', 'inline_max_requests': 10, 'unique_key': 'review_id'}"
    )
    demo.dbt("run", "--select", "stg_shop__reviews")
    # Hundreds pending: more than inline_max_requests, so auto leaves them for a batch job (said in the log).
    first = demo.dbt("build", "--select", "inline_reviews")
    assert "more than inline_max_requests (10): left for a batch job" in first.output
    demo.gb("build", "--select", "inline_reviews")
    assert [j["kind"] for j in demo.ledger()] == [None]  # one Vertex batch job

    # Ten new reviews: a plain dbt build answers them in the same run, through AI.GENERATE.
    demo.append_reviews(NEW_REVIEWS)
    demo.dbt("seed", "--select", "shop_reviews")
    demo.dbt("run", "--select", "stg_shop__reviews")
    plain = demo.dbt("build", "--select", "inline_reviews")
    assert "inline_reviews: answered 10 request(s) inline with AI.GENERATE (0 failed" in plain.output
    assert "not answered yet" not in plain.output  # nothing left pending: no on_pending warning
    inline = demo.rows(
        "select request, response, status, attempts from `{ds}.inline_reviews__responses` "
        "where starts_with(job_name, 'inline/')"
    )
    assert len(inline) == 10 and {(r["status"], r["attempts"]) for r in inline} == {("", 1)}
    # the same answer and token counts as the Vertex emulator gives the same request in a batch job
    config = EmulatorConfig()
    for row in inline:
        expected = JobRunner._answer_row(json.loads(row["request"]), config, "gemini-2.5-flash", make_responder(config))
        assert json.loads(json.dumps(row["response"])) == expected["response"]
    states = demo.rows("select output_state, count(*) as n from `{ds}.inline_reviews` group by 1")
    assert {r["output_state"] for r in states} == {"answered"}

    ledger = demo.ledger()
    assert [j["kind"] for j in ledger] == [None, "inline"]
    run = ledger[1]
    assert (run["state"], run["request_count"], run["succeeded_count"], run["failed_count"]) == (
        "JOB_STATE_SUCCEEDED", 10, 10, 0)  # fmt: skip
    assert run["prompt_tokens"] == sum(r["response"]["usageMetadata"]["promptTokenCount"] for r in inline)
    demo.dbt("run", "--select", "gemini_batch_job_history", "gemini_batch_usage")
    usage = demo.rows(
        "select requests, answered_rows, prompt_tokens, estimated_cost_usd from `{ds}.gemini_batch_usage` "
        f"where invocation_id = '{run['invocation_id']}'"
    )
    assert usage == [
        {"requests": 10, "answered_rows": 10, "prompt_tokens": run["prompt_tokens"],
         "estimated_cost_usd": usage[0]["estimated_cost_usd"]}
    ] and usage[0]["estimated_cost_usd"] > 0  # fmt: skip
    kinds = demo.rows("select kind, count(*) as n from `{ds}.gemini_batch_job_history` group by 1 order by 1")
    assert kinds == [{"kind": "batch", "n": 1}, {"kind": "inline", "n": 1}]

    # The one-shot CLI finds nothing left to send.
    after = demo.gb("build", "--select", "inline_reviews")
    assert "0 requests pending, nothing to submit" in after.output
    assert len(demo.ledger()) == 2


def test_inline_guards_stop_the_model_before_any_call(demo: DemoProject) -> None:
    demo.add_review_batch_model("guarded_inline", "meta={'answer_with': 'inline', 'max_requests_per_run': 5}")
    demo.dbt("run", "--select", "stg_shop__reviews")
    stopped = demo.dbt("build", "--select", "guarded_inline", ok=False)
    assert stopped.returncode == 1
    assert "answered inline with AI.GENERATE, more than max_requests_per_run (5); nothing was sent" in stopped.output
    assert demo.scalar("select count(*) from `{ds}.guarded_inline__responses`") == 0
    assert demo.ledger() == []


@pytest.fixture()
def us_project(
    tmp_path: Path, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo
) -> Iterator[DemoProject]:
    """The demo in a dataset of the BigQuery multi-region US (made before dbt would make it in the region)."""
    project = DemoProject.copy(tmp_path / "demo", stack_env, bq_client, local_stack.vertex_endpoint)
    dataset = bigquery.Dataset(f"{bq_client.project}.{project.dataset}")
    dataset.location = "US"
    bq_client.create_dataset(dataset)
    try:
        yield project
    finally:
        bq_client.delete_dataset(project.dataset, delete_contents=True, not_found_ok=True)


def test_a_us_dataset_is_answered_inline_and_refused_for_batch(us_project: DemoProject) -> None:
    project = us_project
    assert project.bq.get_dataset(project.dataset).location == "US"
    project.dbt("seed", "--select", "shop_reviews")
    project.dbt("run", "--select", "stg_shop__reviews")
    select = (
        "select review_id, {{ gemini_batch.request(prompt='review_text_clean') }} as request\n"
        "from {{ ref('stg_shop__reviews') }}\nqualify row_number() over (order by review_id) <= 10\n"
    )
    project.add_model("us/inline_us.sql", "{{ config(materialized='gemini_batch', meta={'answer_with': 'inline'}) }}\n"
                      + select)  # fmt: skip
    project.add_model("us/batch_us.sql", "{{ config(materialized='gemini_batch') }}\n" + select)

    built = project.dbt("build", "--select", "inline_us")
    distinct = int(project.scalar("select count(distinct request_hash) from `{ds}.inline_us__requests`"))
    assert f"inline_us: answered {distinct} request(s) inline with AI.GENERATE" in built.output
    assert project.scalar("select countif(output_state = 'answered') from `{ds}.inline_us`") == 10
    assert [j["kind"] for j in project.ledger()] == ["inline"]
    # the same dataset with batch jobs: Vertex cannot read a multi-region dataset, said before anything is built
    refused = project.dbt("run", "--select", "batch_us", ok=False)
    assert refused.returncode == 1 and "is in the BigQuery multi-region US" in refused.output

    after = project.gb("build", "--select", "inline_us")
    assert "0 requests pending, nothing to submit" in after.output
    assert len(project.ledger()) == 1
