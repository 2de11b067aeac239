"""Last good answer (issue 12.4), through dbt-bigquery on the local stack: a key answered once, then its prompt
changes and the next batch job fails, and the view still shows the old answer in previous_response (found through
m__answer_history by the unique_key), while `response` is empty for the new request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, set_emulator_config

pytestmark = pytest.mark.integration


def model(instruction: str) -> str:
    return (
        "{{ config(materialized='gemini_batch', meta={'unique_key': 'review_id', 'max_attempts': 1}) }}\n"
        "select review_id, review_text_clean, {{ gemini_batch.request(prompt='review_text_clean', "
        f"system_instruction=\"'{instruction}'\") }}}} as request\n"
        "from {{ ref('stg_shop__reviews') }} where review_id in (100001, 100002)\n"
    )


@pytest.fixture()
def project(
    tmp_path: Path, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo
) -> Iterator[DemoProject]:
    demo = DemoProject.copy(tmp_path / "demo", stack_env, bq_client, local_stack.vertex_endpoint)
    try:
        yield demo
    finally:
        set_emulator_config(local_stack.vertex_endpoint, {"fail_jobs": False})
        bq_client.delete_dataset(demo.dataset, delete_contents=True, not_found_ok=True)


def test_a_changed_prompt_whose_job_fails_keeps_the_previous_answer(
    project: DemoProject, local_stack: StackInfo
) -> None:
    project.dbt("seed", "--select", "shop_reviews")
    project.dbt("run", "--select", "stg_shop__reviews")
    project.add_model("last/last_answer.sql", model("Summarise the review."))
    project.gb("build", "--select", "last_answer")
    first = {r["review_id"]: r for r in project.rows("select * from `{ds}.last_answer`")}
    assert {r["output_state"] for r in first.values()} == {"answered"}
    assert all(r["previous_response"] is None for r in first.values())

    # A new prompt for the same keys, and the job that would answer it fails.
    project.add_model("last/last_answer.sql", model("Summarise the review in French."))
    set_emulator_config(local_stack.vertex_endpoint, {"fail_jobs": True})
    project.gb("build", "--select", "last_answer", ok=False)
    rows = {r["review_id"]: r for r in project.rows("select * from `{ds}.last_answer`")}
    assert rows.keys() == first.keys()
    for key, row in rows.items():
        assert row["request_hash"] != first[key]["request_hash"]
        assert row["response"] is None and row["output_state"] != "answered"
        assert json.loads(json.dumps(row["previous_response"])) == json.loads(json.dumps(first[key]["response"]))
        assert row["previous_answered_at"] is not None
    # The documented pattern for marts: the new answer when there is one, else the last good one.
    served = project.rows(
        "select review_id, to_json_string(coalesce(response, previous_response)) as answer "
        "from `{ds}.last_answer` order by review_id"
    )
    assert all(r["answer"] for r in served)
    history = project.rows("select row_key, request_hash from `{ds}.last_answer__answer_history`")
    assert sorted(json.loads(h["row_key"])["review_id"] for h in history) == sorted(first)


def typed_model(instruction: str, extra_column: str = "") -> str:
    return (
        "{{ config(materialized='gemini_batch', meta={'unique_key': 'review_id', 'max_attempts': 1, "
        "'output_schema': 'sentiment STRING, stars INT64'}) }}\n"
        f"select review_id, review_text_clean,{extra_column} {{{{ gemini_batch.request(prompt='review_text_clean', "
        f"system_instruction=\"'{instruction}'\") }}}} as request\n"
        "from {{ ref('stg_shop__reviews') }} where review_id in (100001, 100002)\n"
    )


def test_the_last_good_answer_is_typed_with_an_output_schema(project: DemoProject, local_stack: StackInfo) -> None:
    project.dbt("seed", "--select", "shop_reviews")
    project.dbt("run", "--select", "stg_shop__reviews")
    project.add_model("last/typed_last.sql", typed_model("Rate the review."))
    project.gb("build", "--select", "typed_last")
    first = {r["review_id"]: r for r in project.rows("select * from `{ds}.typed_last`")}
    assert {r["output_state"] for r in first.values()} == {"answered"}
    assert all(r["previous_sentiment"] is None and r["previous_stars"] is None for r in first.values())

    project.add_model("last/typed_last.sql", typed_model("Rate the review, strictly."))
    set_emulator_config(local_stack.vertex_endpoint, {"fail_jobs": True})
    project.gb("build", "--select", "typed_last", ok=False)
    types = {
        r["column_name"]: r["data_type"]
        for r in project.rows(
            "select column_name, data_type from `{ds}.INFORMATION_SCHEMA.COLUMNS` where table_name = 'typed_last'"
        )
    }
    assert (types["previous_sentiment"], types["previous_stars"]) == ("STRING", "INT64")
    for row in project.rows("select * from `{ds}.typed_last`"):
        before = first[row["review_id"]]
        assert row["sentiment"] is None and row["stars"] is None  # the new request has no answer
        assert (row["previous_sentiment"], row["previous_stars"]) == (before["sentiment"], before["stars"])
        assert before["sentiment"] is not None and isinstance(before["stars"], int)

    # previous_<field> is a column of the view: a model column of that name is refused, naming both
    project.add_model("last/typed_clash.sql", typed_model("Rate the review.", " 1 as previous_stars,"))
    clash = project.dbt("run", "--select", "typed_clash", ok=False)
    assert clash.returncode == 1
    assert "the column `previous_stars` of the output schema field `stars`" in clash.output
