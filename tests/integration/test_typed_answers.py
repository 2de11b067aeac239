"""Typed answers, unusable answers retried, dead letters and pending work, through dbt-bigquery on the local stack.

One throwaway copy of the demo project serves the module; each test adds its own gemini_batch model over a few
reviews and selects only it (the emulator answers deterministically; a tiny maxOutputTokens makes it truncate, as
Vertex does, and a request schema that disagrees with the model's output_schema gives answers that do not fit).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

REVIEWS = "from {{ ref('stg_shop__reviews') }} where review_id in (100001, 100002, 100003, 100004)"


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, local_stack: StackInfo, bq_client: bigquery.Client
) -> Iterator[DemoProject]:
    env = {**os.environ, **local_stack.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    demo = DemoProject.copy(tmp_path_factory.mktemp("typed") / "demo", env, bq_client, local_stack.vertex_endpoint)
    demo.dbt("seed")
    demo.dbt("run", "--select", "stg_shop__reviews")
    try:
        yield demo
    finally:
        bq_client.delete_dataset(demo.dataset, delete_contents=True, not_found_ok=True)


def model(meta: dict[str, object], request_args: str = "prompt='review_text_clean'") -> str:
    return (
        f"{{{{ config(materialized='gemini_batch', meta={meta!r}) }}}}\n"
        f"select review_id, {{{{ gemini_batch.request({request_args}) }}}} as request\n{REVIEWS}\n"
    )


def truncating_model(max_attempts: int) -> str:
    """Every answer truncated: a maxOutputTokens of 2 (the emulator truncates as Vertex does)."""
    return model(
        {"output_schema": "summary STRING", "max_attempts": max_attempts},
        "prompt='review_text_clean', generation_config={'max_output_tokens': 2}",
    )


def view_types(project: DemoProject, name: str) -> dict[str, tuple[str, str]]:
    return {f.name: (f.field_type, f.mode) for f in project.bq.get_table(project.table(name)).schema}


def test_output_schema_gives_typed_columns_and_a_state_for_every_row(project: DemoProject) -> None:
    project.add_model(
        "typed/typed_reviews.sql",
        model({"output_schema": "sentiment STRING, topics ARRAY<STRING>, stars INT64", "max_attempts": 2}),
    )
    project.gb("build", "--select", "typed_reviews")
    types = view_types(project, "typed_reviews")
    assert types["sentiment"] == ("STRING", "NULLABLE")
    assert types["topics"] == ("STRING", "REPEATED")
    assert types["stars"] == ("INTEGER", "NULLABLE")
    assert types["output_state"][0] == "STRING"
    assert types["given_up"][0] == "BOOLEAN"
    rows = project.rows("select * from `{ds}.typed_reviews` order by review_id")
    assert [r["review_id"] for r in rows] == [100001, 100002, 100003, 100004]
    for row in rows:
        assert row["output_state"] == "answered", (row["response"], row["sentiment"], row["topics"], row["stars"])
        assert row["output_error"] is None and row["given_up"] is False
        assert isinstance(row["sentiment"], str) and isinstance(row["stars"], int) and isinstance(row["topics"], list)
    # The responseSchema sent was derived from output_schema (request() read the model's setting).
    request = json.loads(project.scalar("select request from `{ds}.typed_reviews__requests` limit 1"))
    schema = request["generationConfig"]["responseSchema"]
    assert request["generationConfig"]["responseMimeType"] == "application/json"
    assert schema["properties"]["stars"]["type"] == "INTEGER"
    assert schema["properties"]["topics"] == {"type": "ARRAY", "items": {"type": "STRING"}}


def test_a_schema_given_to_request_gives_the_same_typed_columns(project: DemoProject) -> None:
    schema = {"type": "OBJECT", "properties": {"score": {"type": "NUMBER"}}, "required": ["score"]}
    project.add_model("typed/request_schema.sql", model({}, f"prompt='review_text_clean', response_schema={schema!r}"))
    project.gb("build", "--select", "request_schema")
    assert view_types(project, "request_schema")["score"] == ("FLOAT", "NULLABLE")
    states = project.rows("select output_state, score from `{ds}.request_schema`")
    assert all(r["output_state"] == "answered" and isinstance(r["score"], float) for r in states)


def test_truncated_answers_are_kept_retried_then_given_up(project: DemoProject) -> None:
    project.add_model("typed/truncated.sql", truncating_model(2))
    project.gb("build", "--select", "truncated")
    first = project.rows("select * from `{ds}.truncated`")
    assert {r["output_state"] for r in first} == {"truncated"}
    assert all(r["response"] is not None and r["attempts"] == 1 and not r["given_up"] for r in first)
    assert all("thinking tokens" in r["output_error"] for r in first)
    # Judged by the hook as it merged the job, not left for the next build: already an unusable answer, judged once.
    assert {r["status"] for r in first} == {"unusable answer: truncated"}
    judged = project.rows("select judged_at, updated_at from `{ds}.truncated__responses`")
    assert judged and all(r["judged_at"] is not None and r["judged_at"] <= r["updated_at"] for r in judged)
    # Next run: sent again as a failed attempt.
    project.gb("build", "--select", "truncated")
    second = project.rows("select * from `{ds}.truncated`")
    assert {(r["output_state"], r["attempts"], r["given_up"]) for r in second} == {("truncated", 2, True)}
    # max_attempts reached: not sent again, and a dead letter in SQL.
    third = project.gb("build", "--select", "truncated")
    assert "given up" in third.output
    rows = project.rows("select attempts, given_up, status from `{ds}.truncated`")
    assert {(r["attempts"], r["given_up"]) for r in rows} == {(2, True)}
    assert all(r["status"] == "unusable answer: truncated" for r in rows)


def test_the_build_judges_answers_left_unjudged_and_never_an_answer_twice(project: DemoProject) -> None:
    """Answers merged unjudged (retry_unusable_answers was off, an older package, a hook that stopped before judging)
    are judged by the next build; an answer judged already is not parsed again, so an unchanged re-run judges
    nothing. A table made before `judged_at` existed gets the column."""
    project.add_model("typed/judged_once.sql", truncating_model(3))
    project.gb("build", "--select", "judged_once")
    responses = "`{ds}.judged_once__responses`"
    hashes = [r["request_hash"] for r in project.rows(f"select request_hash from {responses} order by request_hash")]
    assert len(hashes) == 4
    unjudged, judged_usable = hashes[0], hashes[1]
    # As an older package left it: no judged_at column, truncated answers with status ''.
    project.rows(f"alter table {responses} drop column judged_at")
    project.rows(f"update {responses} set status = '' where request_hash in ('{unjudged}', '{judged_usable}')")
    project.dbt("run", "--select", "judged_once")  # the materialization only: no job, no hook
    columns = {f.name for f in project.bq.get_table(project.table("judged_once__responses")).schema}
    assert "judged_at" in columns
    state = {r["request_hash"]: r for r in project.rows(f"select * from {responses}")}
    assert state[unjudged]["status"] == "unusable answer: truncated"
    assert state[unjudged]["judged_at"] is not None
    # One judged already (judged_at = its updated_at) is taken as judged: the build does not parse it again.
    project.rows(f"update {responses} set status = '', judged_at = updated_at where request_hash = '{judged_usable}'")
    one = f"select status, updated_at, judged_at from {responses} where request_hash = '{judged_usable}'"
    before = project.rows(one)
    project.dbt("run", "--select", "judged_once")
    after = project.rows(one)
    assert after == before and after[0]["status"] == ""


def test_answers_that_do_not_fit_the_schema_are_invalid_output_unless_retries_are_off(project: DemoProject) -> None:
    # The request asks for a STRING, the model's output_schema wants an INT64: every answer is invalid_output.
    wrong = {"type": "OBJECT", "properties": {"stars": {"type": "STRING"}}, "required": ["stars"]}
    request_args = f"prompt='review_text_clean', response_schema={wrong!r}"
    project.add_model("typed/invalid.sql", model({"output_schema": "stars INT64"}, request_args))
    project.add_model(
        "typed/invalid_kept.sql",
        model({"output_schema": "stars INT64", "retry_unusable_answers": False}, request_args),
    )
    project.gb("build", "--select", "invalid", "invalid_kept")
    project.gb("build", "--select", "invalid", "invalid_kept")
    retried = project.rows("select output_state, attempts, stars from `{ds}.invalid`")
    assert {(r["output_state"], r["attempts"], r["stars"]) for r in retried} == {("invalid_output", 2, None)}
    kept = project.rows("select output_state, attempts, status from `{ds}.invalid_kept`")
    assert {(r["output_state"], r["attempts"], r["status"]) for r in kept} == {("invalid_output", 1, "")}


def test_plain_dbt_run_reports_pending_requests(project: DemoProject) -> None:
    project.add_model("typed/pending_warn.sql", model({}))
    project.add_model("typed/pending_error.sql", model({"on_pending": "error"}))
    project.add_model("typed/pending_quiet.sql", model({"on_pending": "ignore"}))
    warned = project.dbt("run", "--select", "pending_warn", "pending_quiet")
    assert "pending_warn: 4 request(s) not answered yet (4 never answered" in warned.output
    assert "pending_quiet" not in warned.output.split("not answered yet")[0].rsplit("\n", 1)[-1]
    results = json.loads((project.root / "target" / "run_results.json").read_text())
    messages = {r["unique_id"].rsplit(".", 1)[-1]: r["message"] for r in results["results"]}
    assert messages["pending_warn"] == "4 requests pending"
    assert messages["pending_quiet"] != "4 requests pending"
    failed = project.dbt("run", "--select", "pending_error", ok=False)
    assert failed.returncode == 1 and "on_pending: error" in failed.output
    # The one-shot command sends them, so it never warns about them; afterwards plain dbt is quiet too.
    sent = project.gb("build", "--select", "pending_warn")
    assert "not answered yet" not in sent.output
    quiet = project.dbt("run", "--select", "pending_warn")
    assert "not answered yet" not in quiet.output


def test_generic_tests_on_a_batch_model(project: DemoProject) -> None:
    project.add_model("typed/checked_reviews.sql", model({"output_schema": "sentiment STRING"}))
    # `truncated` (an earlier test's model, when this one runs in the module) exists before the yml naming its tests
    # is written: dbt's partial parsing does not attach an unchanged yml's tests to a model file added after it
    truncated_built = bool(
        project.rows("select 1 from `{ds}.INFORMATION_SCHEMA.TABLES` where table_name = 'truncated'")
    )
    if not truncated_built:
        project.add_model("typed/truncated.sql", truncating_model(1))
    tests = {"data_tests": ["gemini_batch.valid_request", "gemini_batch.answer_rate", "gemini_batch.no_pending"]}
    (project.root / "models" / "typed" / "_typed.yml").write_text(
        json.dumps({"version": 2, "models": [{"name": "checked_reviews", **tests}, {"name": "truncated", **tests}]})
    )
    project.dbt("run", "--select", "checked_reviews")
    waiting = project.dbt("test", "--select", "checked_reviews")
    assert "WARN=1" in waiting.output and "no_pending" in waiting.output  # 4 rows pending: a warning, not a failure
    project.gb("build", "--select", "checked_reviews")
    done = project.dbt("test", "--select", "checked_reviews")
    assert "WARN=0 ERROR=0" in done.output and "PASS=0 " not in done.output
    # Every answer of `truncated` is unusable: answer_rate fails; given up, so nothing is pending any more.
    if not truncated_built:
        project.gb("run", "--select", "truncated")
    bad = project.dbt("test", "--select", "truncated", ok=False)
    # Known gap: on bqemulator this aggregate over truncated (non-JSON) text ends in a DuckDB JSON error instead of a
    # FAIL row (SAFE.PARSE_JSON is not kept safe there once aggregated); BigQuery returns the failing row.
    assert bad.returncode == 1 and "gemini_batch_answer_rate_truncated_" in bad.output
