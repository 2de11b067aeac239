"""The whole pipeline through the real clients: dbt-bigquery -> bqemulator, aiplatform REST -> the Vertex emulator.

Each test builds the demo project (reviews -> review_insights batch model -> parsed -> marts) in its own dataset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.batch.submit import input_label
from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, set_emulator_config

pytestmark = pytest.mark.integration

BASELINE_FAULTS = {
    "row_failure_rate": 0.0,
    "fail_jobs": False,
    "queue_delay_seconds": 0.2,
    "api_error_rate": 0.0,
    "api_error_after_commit": False,
}


@pytest.fixture()
def faults(local_stack: StackInfo) -> Iterator[None]:
    """Lets a test change the shared emulator's fault injection; puts the baseline back afterwards."""
    yield
    set_emulator_config(local_stack.vertex_endpoint, BASELINE_FAULTS)


def distinct_prompts(demo: DemoProject) -> int:
    return int(demo.scalar("select count(distinct review_text_clean) from `{ds}.stg_shop__reviews`"))


def test_build_answers_every_review_once_then_only_new_ones(demo: DemoProject) -> None:
    first = demo.gb("build", "--select", "+tag:demo")
    reviews = int(demo.scalar("select count(*) from `{ds}.stg_shop__reviews`"))
    prompts = distinct_prompts(demo)
    assert prompts < reviews, "the seed is meant to hold identical review texts"

    jobs = demo.ledger()
    assert len(jobs) == 1
    assert jobs[0]["state"] == "JOB_STATE_SUCCEEDED"
    # identical requests are sent once: one request per distinct text, not per review
    assert jobs[0]["request_count"] == prompts
    assert jobs[0]["succeeded_count"] == prompts
    assert f"({prompts} requests)" in first.output  # review_insights: submitted <job> (N requests)

    statuses = demo.rows("select classification_status, count(*) as n from `{ds}.int_reviews__classified` group by 1")
    assert statuses == [{"classification_status": "classified", "n": reviews}]
    # the usage mart waits for the batch job (its input, the ledger, changes under dbt's feet)
    usage = demo.rows("select requests, answered_rows, estimated_cost_usd from `{ds}.usage_and_cost`")
    assert len(usage) == 1 and usage[0]["requests"] == prompts == usage[0]["answered_rows"]
    assert usage[0]["estimated_cost_usd"] > 0
    # per-job tables are dropped after collection
    leftovers = [t.table_id for t in demo.bq.list_tables(demo.dataset) if "__batch_" in t.table_id]
    assert leftovers == []

    # the same prompt on different reviews: one request hash, and every one of those rows has the answer
    twins = demo.rows(
        "select review_id, request_hash, status, to_json_string(response) as response "
        "from `{ds}.review_insights` where review_text_clean = 'Works as described.'"
    )
    assert len(twins) >= 3
    assert len({t["request_hash"] for t in twins}) == 1
    assert {t["status"] for t in twins} == {""}
    assert len({t["response"] for t in twins}) == 1 and twins[0]["response"]

    # a second build sends nothing and creates no job
    second = demo.gb("build", "--select", "+tag:demo")
    assert "0 requests pending" in second.output
    assert len(demo.ledger()) == 1
    # a full refresh rebuilds the requests but keeps the paid answers
    refreshed = demo.gb("run", "--select", "review_insights", "--full-refresh")
    assert "0 requests pending" in refreshed.output
    assert len(demo.ledger()) == 1

    # ten new reviews: exactly those ten are sent
    demo.append_reviews(
        [f"Added review number {i}: the lid {'squeaks' if i % 2 else 'fits'} after a week." for i in range(10)]
    )
    demo.dbt("seed")
    demo.gb("build", "--select", "+tag:demo")
    jobs = demo.ledger()
    assert len(jobs) == 2
    assert jobs[1]["request_count"] == 10
    assert int(demo.scalar("select count(*) from `{ds}.int_reviews__classified`")) == reviews + 10


def test_scheduler_path_gives_the_same_tables_as_the_one_shot_run(
    tmp_path: Path, demo: DemoProject, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo
) -> None:
    # one shot in one dataset ...
    demo.gb("build", "--select", "+tag:demo")
    # ... plain dbt + the scheduler commands in another
    other = DemoProject.copy(tmp_path / "scheduled", stack_env, bq_client, local_stack.vertex_endpoint)
    other.dbt("seed")
    other.dbt("run", "--select", "+tag:demo")
    assert int(other.scalar("select count(*) from `{ds}.int_reviews__classified` where response_state = 'pending'")) > 0
    before = other.gb("status")
    assert f"review_insights: {distinct_prompts(other)} pending (not sent yet), 0 in flight" in before.output
    assert "no batch jobs in the ledger" in before.output
    submitted = other.gb("submit")
    # the multimodal demo model was not built by `+tag:demo`: said and skipped, not a traceback
    assert "product_media_insights: not built yet" in submitted.output
    assert "submitted" in submitted.output
    status = other.gb("status", "--select", "tag:demo")  # dbt selector syntax, resolved with dbt ls
    assert "(live)" in status.output  # the submitted job, not collected yet, with its state asked of Vertex
    collected = other.gb("collect", "--wait")
    assert "dbt run -s review_insights+" in collected.output
    other.dbt("run", "--select", "review_insights+")

    query = (
        "select review_id, classification_status, sentiment, array_to_string(topics, ',') as topics, summary "
        "from `{ds}.int_reviews__classified` order by review_id"
    )
    one_shot, scheduled = demo.rows(query), other.rows(query)
    assert len(one_shot) > 300
    assert scheduled == one_shot
    assert [j["state"] for j in other.ledger()] == ["JOB_STATE_SUCCEEDED"]


def test_plain_dbt_and_the_hook_keep_each_others_partial_parsing(demo: DemoProject) -> None:
    """dbt parses the whole project again when --vars differ from its last invocation's: the hook's own flag is an
    environment variable, so alternating `dbt run` and `dbt-gemini-batch run` never costs a full parse."""
    demo.dbt("parse")
    log = demo.root / "logs" / "dbt.log"
    before = len(log.read_text())
    demo.gb("run", "--select", "stg_shop__reviews")
    demo.dbt("run", "--select", "stg_shop__reviews")
    written = log.read_text()[before:]
    assert written.count("Partial parsing enabled") >= 2  # the hook's invocations and the plain one all reused it
    assert "Unable to do partial parsing" not in written


def test_failed_rows_are_visible_then_retried_and_successes_win(
    demo: DemoProject, local_stack: StackInfo, faults: None
) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 0.25})
    demo.gb("build", "--select", "+tag:demo")
    failed = demo.rows("select request_hash, status from `{ds}.review_insights__responses` where status != ''")
    assert failed, "with a 25% failure rate some rows must fail"
    marts_failed = int(
        demo.scalar("select reviews from `{ds}.review_pipeline_health` where classification_status = 'failed'")
    )
    failed_reviews = int(
        demo.scalar("select count(*) from `{ds}.review_insights` where status is not null and status != ''")
    )
    assert marts_failed == failed_reviews > 0
    errors = demo.rows(
        "select error_message from `{ds}.int_reviews__classified` where classification_status = 'failed'"
    )
    assert all(e["error_message"] for e in errors)

    # next run: only the failed hashes go out again; they succeed; attempts counts both tries
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 0.0})
    demo.gb("build", "--select", "+tag:demo")
    jobs = demo.ledger()
    assert len(jobs) == 2
    assert jobs[1]["request_count"] == len(failed)
    retried = demo.rows(
        "select status, attempts from `{ds}.review_insights__responses` "
        f"where request_hash in ({', '.join(repr(f['request_hash']) for f in failed)})"
    )
    assert {r["status"] for r in retried} == {""}
    assert {r["attempts"] for r in retried} == {2}
    assert demo.scalar("select countif(classification_status != 'classified') from `{ds}.int_reviews__classified`") == 0


def test_dead_letters_are_never_silent(demo: DemoProject, local_stack: StackInfo, faults: None) -> None:
    """Rows given up after max_attempts fail answer_rate(max_given_up) (or warn at severity warn), and the run
    summary, `status` and a plain dbt run say how many there are; no_pending does not count them (never sent)."""
    # JSON answers: bqemulator cannot aggregate over SAFE.PARSE_JSON of plain text (test_typed_answers' known gap)
    demo.add_review_batch_model("dead_letters", "meta={'max_attempts': 1, 'output_schema': 'sentiment STRING'}")
    tests = {
        "version": 2,
        "models": [{
            "name": "dead_letters",
            "data_tests": [
                {"gemini_batch.answer_rate": {
                    "arguments": {"min_answered": 0, "max_given_up": 0.1}, "name": "dead_letters_strict"}},
                {"gemini_batch.answer_rate": {
                    "arguments": {"min_answered": 0, "max_given_up": 0.1}, "config": {"severity": "warn"},
                    "name": "dead_letters_warn"}},
                {"gemini_batch.answer_rate": {"arguments": {"min_answered": 0}, "name": "dead_letters_unchecked"}},
                {"gemini_batch.no_pending": {"name": "dead_letters_not_pending"}},
            ],
        }],
    }  # fmt: skip
    (demo.root / "models" / "demo" / "batch" / "_dead_letters.yml").write_text(json.dumps(tests))
    demo.dbt("run", "--select", "stg_shop__reviews")
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 0.3})
    ran = demo.gb("run", "--select", "dead_letters", ok=False)  # max_error_ratio may fail it: the rows are kept
    given_up = int(demo.scalar("select count(distinct request_hash) from `{ds}.dead_letters` where given_up"))
    assert given_up > 0
    assert f"WARNING dead_letters: {given_up} request(s) given up after max_attempts" in ran.output

    status = demo.gb("status", "--select", "dead_letters")
    assert f"{given_up} given up after max_attempts" in status.output
    assert f"  {given_up} dead letter(s): " in status.output

    plain = demo.dbt("run", "--select", "dead_letters")
    assert f"dead_letters: {given_up} request(s) given up after max_attempts (dead letters" in plain.output

    tested = demo.dbt("test", "--select", "dead_letters", ok=False)
    results = {
        r["unique_id"].split(".")[2]: r["status"]
        for r in json.loads((demo.root / "target" / "run_results.json").read_text())["results"]
    }
    assert tested.returncode == 1
    assert results["dead_letters_warn"] == "warn"
    assert results["dead_letters_unchecked"] == "pass"
    assert results["dead_letters_not_pending"] == "pass"  # dead letters are never sent again: not pending
    assert results["dead_letters_strict"] == "fail"


def test_bad_input_is_stopped_before_anything_is_submitted(demo: DemoProject) -> None:
    demo.add_model(
        "demo/batch/bad_prompts.sql",
        "{{ config(materialized='gemini_batch', tags=['bad']) }}\n"
        "select review_id,\n"
        "    case review_id\n"
        '        when 100020 then \'{"contents": {"role": "user"}}\'\n'
        '        when 100030 then \'{"contents": [{"role": "system", "parts": [{"text": "x"}]}]}\'\n'
        "        else {{ gemini_batch.request(prompt='if(review_id = 100010, null, review_text_clean)') }}\n"
        "    end as request\n"
        "from {{ ref('stg_shop__reviews') }}\n",
    )
    demo.dbt("run", "--select", "stg_shop__reviews")
    result = demo.gb("run", "--select", "bad_prompts", ok=False)
    assert result.returncode != 0
    assert "bad_prompts" in result.output
    assert "3 row(s) have a request that Vertex would reject" in result.output
    assert "review_id=100010: request is NULL" in result.output
    assert "review_id=100020: `contents` is empty or not a list" in result.output
    assert "review_id=100030: a `contents` entry has a role other than user or model" in result.output
    assert demo.ledger() == []


def test_failed_job_fails_the_command_and_keeps_rows_pending(
    demo: DemoProject, local_stack: StackInfo, faults: None
) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"fail_jobs": True})
    result = demo.gb("build", "--select", "+tag:demo", ok=False)
    assert result.returncode == 1
    assert "FAILED" in result.output
    assert [j["state"] for j in demo.ledger()] == ["JOB_STATE_FAILED"]
    pending = demo.scalar("select countif(classification_status = 'pending') from `{ds}.int_reviews__classified`")
    assert pending == demo.scalar("select count(*) from `{ds}.stg_shop__reviews`")

    # The FAILED job's requests (a NULL status in the cache) are pending everywhere, by the submit step's rule.
    prompts = distinct_prompts(demo)
    demo.gb("plan", "--select", "review_insights")
    [planned] = json.loads((demo.root / "target" / "gemini_batch_plan.json").read_text())["models"]
    assert (planned["to_send"], planned["new"], planned["answered"]) == (prompts, prompts, 0)
    status = demo.gb("status", "--select", "review_insights")
    assert f"review_insights: {prompts} pending (not sent yet)" in status.output
    demo.add_review_model_meta("'on_pending': 'error'")
    plain = demo.dbt("build", "--select", "review_insights", ok=False)
    assert plain.returncode != 0
    assert f"{prompts} request(s) not answered yet" in plain.output
    assert "(on_pending: error)" in plain.output

    set_emulator_config(local_stack.vertex_endpoint, {"fail_jobs": False})
    demo.gb("build", "--select", "+tag:demo")
    assert [j["state"] for j in demo.ledger()] == ["JOB_STATE_FAILED", "JOB_STATE_SUCCEEDED"]


def test_no_wait_resume_and_cancel(demo: DemoProject, local_stack: StackInfo, faults: None) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 60})
    demo.gb("run", "--no-wait", "--select", "+review_insights")
    jobs = demo.ledger()
    assert len(jobs) == 1 and jobs[0]["collected_at"] is None
    # a second run resumes the job in flight instead of submitting the same rows again
    again = demo.gb("run", "--no-wait", "--select", "+review_insights")
    assert "1 job(s) from an earlier run not collected yet, resuming" in again.output
    assert len(demo.ledger()) == 1

    demo.gb("cancel")
    demo.gb("collect", "--wait", ok=False)
    jobs = demo.ledger()
    assert [j["state"] for j in jobs] == ["JOB_STATE_CANCELLED"]
    assert jobs[0]["collected_at"] is not None
    assert demo.scalar("select countif(status is not null) from `{ds}.review_insights`") == 0

    # after the cancel the requests are still pending and the next run sends them
    set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 0.2})
    demo.gb("run", "--select", "+review_insights")
    assert [j["state"] for j in demo.ledger()] == ["JOB_STATE_CANCELLED", "JOB_STATE_SUCCEEDED"]


def test_large_batches_are_split_into_jobs_of_max_requests_per_job(demo: DemoProject) -> None:
    demo.add_review_batch_model("review_insights_small_jobs", "max_requests_per_job=100")
    demo.gb("run", "--select", "+review_insights_small_jobs")
    prompts = distinct_prompts(demo)
    jobs = demo.ledger()
    counts = [j["request_count"] for j in jobs]  # hash buckets (batch/submit.py): none above the limit, none lost
    assert len(counts) == -(-prompts * 11 // 1000) and max(counts) <= 100 and sum(counts) == prompts
    assert all(j["state"] == "JOB_STATE_SUCCEEDED" for j in jobs)
    assert demo.scalar("select countif(status != '' or status is null) from `{ds}.review_insights_small_jobs`") == 0


def test_api_errors_are_retried_without_creating_a_job_twice(
    demo: DemoProject, local_stack: StackInfo, faults: None, job_client: aiplatform_v1.JobServiceClient
) -> None:
    # every create answers 503/429 although it made the job (the request reached Vertex, the answer did not reach
    # us): the hook must find the job by its label instead of creating it again
    set_emulator_config(
        local_stack.vertex_endpoint,
        {"api_error_rate": 1.0, "api_error_methods": ["create"], "api_error_after_commit": True},
    )
    demo.gb("run", "--select", "+review_insights")
    set_emulator_config(local_stack.vertex_endpoint, BASELINE_FAULTS)

    jobs = demo.ledger()
    assert len(jobs) == 1 and jobs[0]["state"] == "JOB_STATE_SUCCEEDED"
    label = input_label(jobs[0]["input_table"])
    same_input = list(
        job_client.list_batch_prediction_jobs(
            request={
                "parent": f"projects/{local_stack.project}/locations/us-central1",
                "filter": f'labels.gemini_batch_input="{label}"',
            }
        )
    )
    assert len(same_input) == 1
    assert demo.scalar("select countif(status is null) from `{ds}.review_insights`") == 0

    # every second get/list fails while polling; and a full refresh that is told to discard the paid answers
    # asks for all of them again
    set_emulator_config(local_stack.vertex_endpoint, {"api_error_rate": 0.5, "api_error_methods": ["get", "list"]})
    demo.gb(
        "run", "--select", "review_insights", "--full-refresh",
        "--vars", "{gemini_batch_full_refresh_discards_responses: true}",
    )  # fmt: skip
    jobs = demo.ledger()
    assert [j["state"] for j in jobs] == ["JOB_STATE_SUCCEEDED", "JOB_STATE_SUCCEEDED"]
    assert jobs[1]["request_count"] == jobs[0]["request_count"]
    assert demo.scalar("select min(attempts) from `{ds}.review_insights`") == 1
