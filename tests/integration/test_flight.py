"""Jobs in flight through the real clients against the local stack: hash-bucket chunks under the caps, each job merged
as it ends, independent batch models overlapping with `threads: 1`, chains across phases, Ctrl-C while waiting."""

from __future__ import annotations

import math
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from google.cloud import aiplatform_v1

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import BIN, DemoProject, set_emulator_config

pytestmark = pytest.mark.integration

BASELINE = {
    "queue_delay_seconds": 0.2,
    "run_delay_seconds": 0.0,
    "fail_jobs": False,
    "row_failure_rate": 0.0,
    "api_error_rate": 0.0,
}


@pytest.fixture()
def emulator(local_stack: StackInfo) -> Iterator[str]:
    yield local_stack.vertex_endpoint
    set_emulator_config(local_stack.vertex_endpoint, BASELINE)


def _prompts(demo: DemoProject) -> int:
    return int(demo.scalar("select count(distinct review_text_clean) from `{ds}.stg_shop__reviews`"))


def _most_at_once(intervals: list[tuple[object, object]]) -> int:
    """The largest number of [start, end] intervals that overlap at one moment."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def test_hash_bucket_chunks_stay_under_the_caps_and_merge_as_each_job_ends(demo: DemoProject, emulator: str) -> None:
    set_emulator_config(emulator, {"queue_delay_seconds": 1.0})
    demo.add_review_batch_model("small_jobs", "max_requests_per_job=100, max_jobs_in_flight_per_model=2")
    demo.gb("run", "--select", "+small_jobs")
    prompts = _prompts(demo)
    jobs = demo.ledger()
    counts = [j["request_count"] for j in jobs]
    # ceil(pending * 1.1 / max) hash buckets, none above the job limit, every hash in exactly one
    assert len(jobs) == math.ceil(prompts * 1.1 / 100)
    assert max(counts) <= 100 and sum(counts) == prompts
    assert all(j["state"] == "JOB_STATE_SUCCEEDED" for j in jobs)
    # never more than max_jobs_in_flight_per_model=2 between submission and merge
    assert _most_at_once([(j["submitted_at"], j["collected_at"]) for j in jobs]) <= 2
    # the first job was merged before the last one was even submitted: merged as it ended, not after the last
    assert min(j["collected_at"] for j in jobs) < max(j["submitted_at"] for j in jobs)
    assert demo.scalar("select countif(status != '' or status is null) from `{ds}.small_jobs`") == 0


def test_four_jobs_running_at_once_answer_every_request_exactly_once(
    demo: DemoProject, emulator: str, job_client: aiplatform_v1.JobServiceClient
) -> None:
    # run_delay keeps each job RUNNING long enough for the four the emulator runs at once to overlap
    set_emulator_config(emulator, {"queue_delay_seconds": 0.2, "run_delay_seconds": 2.0})
    demo.add_review_batch_model("four_at_once", "meta={'max_requests_per_job': 80, 'max_jobs_in_flight_per_model': 4}")
    demo.gb("run", "--select", "+four_at_once")
    prompts = _prompts(demo)
    entries = demo.ledger()
    jobs = [job_client.get_batch_prediction_job(name=e["job_name"]) for e in entries]
    assert len(jobs) >= 5
    # four RUNNING at the same time in Vertex's own times, never more (the emulator's project cap, the model's cap)
    assert _most_at_once([(j.start_time, j.end_time) for j in jobs]) == 4
    # each job answered every row it was sent, and the cache holds each request once, answered
    for entry, job in zip(entries, jobs, strict=True):
        assert int(job.completion_stats.successful_count) == entry["request_count"]
        assert (entry["succeeded_count"], entry["missing_count"], entry["mismatched_count"]) == (
            entry["request_count"],
            0,
            0,
        )
    assert sum(e["request_count"] for e in entries) == prompts
    cache = demo.rows(
        "select count(*) as n, count(distinct request_hash) as hashes, countif(status = '') as answered, "
        "max(attempts) as attempts from `{ds}.four_at_once__responses`"
    )[0]
    assert cache == {"n": prompts, "hashes": prompts, "answered": prompts, "attempts": 1}
    assert demo.scalar("select countif(status != '' or status is null) from `{ds}.four_at_once`") == 0


def test_six_independent_batch_models_with_one_thread_overlap_their_jobs(
    demo: DemoProject, emulator: str, job_client: aiplatform_v1.JobServiceClient, local_stack: StackInfo
) -> None:
    # Long enough that a job is still queued when the next model is built, even on a loaded machine (with 4 s, a
    # model built in more than 4 s let each job end before the next one was created, and the overlap check failed)
    set_emulator_config(emulator, {"queue_delay_seconds": 15.0})
    for i in range(6):
        demo.add_model(
            f"demo/batch/par_{i}.sql",
            "{{ config(materialized='gemini_batch', tags=['par']) }}\n"
            "select review_id, {{ gemini_batch.request(prompt='review_text_clean') }} as request\n"
            f"from {{{{ ref('stg_shop__reviews') }}}} where mod(review_id, 6) = {i}\n",
        )
    demo.gb("run", "--select", "+tag:par", "--threads", "1")
    names = [j["job_name"] for j in demo.ledger()]
    assert len(names) == 6
    jobs = [job_client.get_batch_prediction_job(name=n) for n in names]
    assert all(j.state.name == "JOB_STATE_SUCCEEDED" for j in jobs)
    # no dbt thread waited: all six jobs were created before any was merged (a wait in dbt's callback would merge
    # each model's job before the next model was even built)
    ledger = demo.ledger()
    assert max(j["submitted_at"] for j in ledger) < min(j["collected_at"] for j in ledger)
    # and on Vertex's side they were in flight together, several at once
    assert _most_at_once([(j.create_time, j.end_time) for j in jobs]) >= 2


def test_a_batch_model_downstream_of_another_reads_its_answers(demo: DemoProject) -> None:
    answer = "json_value(to_json_string(response), '$.candidates[0].content.parts[0].text')"
    demo.add_model(
        "demo/batch/second_opinion.sql",
        "{{ config(materialized='gemini_batch') }}\n"
        "select review_id, {{ gemini_batch.request(prompt=\"concat('check: ', coalesce("
        + answer.replace('"', '\\"')
        + ", 'NO ANSWER YET'))\") }} as request\n"
        "from {{ ref('review_insights') }}\n",
    )
    demo.gb("run", "--select", "+second_opinion")
    rows = demo.rows(
        "select countif(status = '') as answered, count(*) as n, "
        "countif(to_json_string(request) like '%NO ANSWER YET%') as unanswered_input from `{ds}.second_opinion`"
    )[0]
    assert rows["n"] > 0 and rows["answered"] == rows["n"]
    assert rows["unanswered_input"] == 0  # built after review_insights' answers were merged (a later phase)


def test_ctrl_c_while_waiting_leaves_the_job_running_then_collect_merges_it(
    demo: DemoProject, emulator: str, job_client: aiplatform_v1.JobServiceClient
) -> None:
    set_emulator_config(emulator, {"queue_delay_seconds": 300})
    proc = subprocess.Popen(
        [str(BIN / "dbt-gemini-batch"), "run", "--select", "+review_insights", "--profiles-dir", str(demo.root)],
        cwd=demo.root, env=demo.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    output = []
    for line in proc.stdout:  # until the job is submitted and the wait has begun
        output.append(line)
        if "review_insights: submitted" in line:
            break
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    text = "".join(output) + rest
    assert proc.returncode == 130, text[-3000:]
    assert "keep running on Vertex AI" in text and "dbt-gemini-batch collect --select review_insights" in text
    assert "Traceback" not in text
    jobs = demo.ledger()
    assert len(jobs) == 1 and jobs[0]["collected_at"] is None
    assert job_client.get_batch_prediction_job(name=jobs[0]["job_name"]).state.name in {
        "JOB_STATE_PENDING", "JOB_STATE_QUEUED", "JOB_STATE_RUNNING",
    }  # fmt: skip
    # stopped on purpose: cancelled, then collected without an error; its rows stay pending
    demo.gb("cancel", "--select", "review_insights")
    done = demo.gb("collect", "--select", "review_insights", "--wait")
    assert "CANCELLED" in done.output
    assert [j["state"] for j in demo.ledger()] == ["JOB_STATE_CANCELLED"]
    assert demo.ledger()[0]["collected_at"] is not None


def test_clean_keeps_tables_of_jobs_in_flight_and_drops_what_a_killed_run_left(
    demo: DemoProject, emulator: str
) -> None:
    set_emulator_config(emulator, {"queue_delay_seconds": 300})
    proc = subprocess.Popen(
        [str(BIN / "dbt-gemini-batch"), "run", "--select", "+review_insights", "--profiles-dir", str(demo.root)],
        cwd=demo.root, env=demo.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if "review_insights: submitted" in line:
            break
    proc.kill()  # killed after submission: no chance to clean up
    proc.wait(timeout=30)
    input_table = demo.ledger()[0]["input_table"]
    kept = demo.gb("clean", "--select", "review_insights")
    assert "0 leftover table(s) dropped" in kept.output  # collect still needs the job in flight's input
    demo.bq.get_table(input_table)
    set_emulator_config(emulator, {"queue_delay_seconds": 0.2})
    demo.gb("cancel", "--select", "review_insights")
    demo.gb("collect", "--select", "review_insights", "--wait")
    # a collect killed between the merge and the drop leaves the job's table behind
    demo.bq.query(f"create table `{input_table}` as select 'h' as request_hash, '{{}}' as request").result()
    cleaned = demo.gb("clean", "--select", "review_insights")
    assert f"dropped {input_table}" in cleaned.output
    assert "1 leftover table(s) dropped" in cleaned.output
    with pytest.raises(Exception, match="Not found"):
        demo.bq.get_table(input_table)

    # a build killed mid-way leaves its staging view and table: kept while young (a build may be running), dropped
    # with --older-than 0; a table that only looks alike is never touched
    staging_view, staging_table = (
        demo.table(f"review_insights__gemini_batch_{kind}_0123456789ab") for kind in ("view", "table")
    )
    lookalike = demo.table("review_insights__gemini_batch_view_mine")
    for sql in (
        f"create view `{staging_view}` as select 1 as x",
        f"create table `{staging_table}` as select 1 as x",
        f"create table `{lookalike}` as select 1 as x",
    ):
        demo.bq.query(sql).result()
    assert "0 leftover table(s) dropped" in demo.gb("clean", "--select", "review_insights").output
    swept = demo.gb("clean", "--select", "review_insights", "--older-than", "0")
    assert "2 leftover table(s) dropped" in swept.output, swept.output
    left = {t.table_id for t in demo.bq.list_tables(f"{demo.bq.project}.{demo.dataset}")}
    assert "review_insights__gemini_batch_view_mine" in left
    assert (
        not {"review_insights__gemini_batch_view_0123456789ab", "review_insights__gemini_batch_table_0123456789ab"}
        & left
    )


def test_commands_end_within_a_minute_when_bigquery_is_unreachable(demo: DemoProject) -> None:
    from gemini_batch.local.stack import free_port

    demo.dbt("parse")  # the scheduler commands read target/manifest.json (parse does not reach BigQuery)
    demo.env["GEMINI_BATCH_BQ_PORT"] = str(free_port())  # nothing listens there
    for command in ("status", "submit", "collect"):
        started = time.monotonic()
        result = demo.gb(command, ok=False)
        elapsed = time.monotonic() - started
        errors = [line for line in result.output.splitlines() if "ERROR" in line]
        assert result.returncode != 0 and elapsed < 60, (command, elapsed, result.output[-2000:])
        assert len(errors) == 1 and "not running" in errors[0] and "Traceback" not in result.output
