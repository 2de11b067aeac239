"""Runs that pause or retry inside a lease, through dbt-gemini-batch on the demo project (dbt-bigquery -> the local
BigQuery, aiplatform -> the Vertex emulator). Leases live GEMINI_BATCH_LEASE_SECONDS=10 here so a pause can outlast one
in seconds; a run is frozen with SIGSTOP as a laptop lid or a VM migration would."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
from google.cloud import aiplatform_v1

from gemini_batch.emulator.config import API_METHODS
from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import BIN, DemoProject, set_emulator_config
from tests.integration.test_pipeline import BASELINE_FAULTS

pytestmark = pytest.mark.integration

TTL = 10


@pytest.fixture()
def emulator(local_stack: StackInfo) -> Iterator[str]:
    yield local_stack.vertex_endpoint
    defaults = {"api_error_methods": list(API_METHODS), "api_error_codes": [429, 503], "list_lag_seconds": 0.0}
    set_emulator_config(local_stack.vertex_endpoint, {**BASELINE_FAULTS, **defaults})


def _start(demo: DemoProject, *args: str) -> subprocess.Popen[str]:
    env = {**demo.env, "GEMINI_BATCH_LEASE_SECONDS": str(TTL), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [str(BIN / "dbt-gemini-batch"), *args, "--profiles-dir", str(demo.root)],
        cwd=demo.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _read_until(proc: subprocess.Popen[str], needle: str, seen: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"never printed {needle!r}:\n{''.join(seen)[-3000:]}")


def _finish(proc: subprocess.Popen[str], seen: list[str]) -> str:
    rest, _ = proc.communicate(timeout=600)
    return "".join(seen) + rest


def test_a_submit_paused_past_its_lease_creates_no_second_job_and_fails(demo: DemoProject, emulator: str) -> None:
    demo.dbt("run", "--select", "+review_insights")
    a_out: list[str] = []
    a = _start(demo, "submit", "--select", "review_insights")
    try:
        _read_until(a, "request(s) pending", a_out)  # A planned, inside its submit lease
        a.send_signal(signal.SIGSTOP)
        time.sleep(TTL + 6)  # past A's lease, on every clock
        b = _start(demo, "submit", "--select", "review_insights")
        b_text = _finish(b, [])
        assert b.returncode == 0, b_text[-3000:]
        assert "review_insights: submitted" in b_text
    finally:
        a.send_signal(signal.SIGCONT)
    a_text = _finish(a, a_out)
    assert a.returncode != 0, a_text[-3000:]
    lost = [line for line in a_text.splitlines() if "lost the submit lease" in line]
    assert len(lost) >= 1 and "Traceback" not in a_text, a_text[-3000:]
    assert "review_insights: submitted" not in a_text
    jobs = [j for j in demo.ledger() if j["job_name"]]
    assert len(jobs) == 1, jobs
    assert jobs[0]["lease_token"], jobs[0]
    # the job B made is collected as usual, and no lease is left behind
    demo.gb("collect", "--select", "review_insights", "--wait")
    assert [t.table_id for t in demo.bq.list_tables(demo.dataset) if "lease" in t.table_id] == []


def test_a_run_starting_while_another_retries_its_create_leaves_that_row_and_table_alone(
    demo: DemoProject, emulator: str
) -> None:
    demo.dbt("run", "--select", "+review_insights")
    set_emulator_config(emulator, {"api_error_rate": 1.0, "api_error_methods": ["create"], "api_error_codes": [503]})
    a_out: list[str] = []
    a = _start(demo, "submit", "--select", "review_insights")
    b_out: list[str] = []
    b: subprocess.Popen[str] | None = None
    try:
        _read_until(a, "create_batch_prediction_job", a_out)  # A's SUBMITTING row exists; A retries inside its lease
        b = _start(demo, "submit", "--select", "review_insights")
        _read_until(b, "waiting: another run holds the submit lease", b_out)  # B's recovery waits for the lease
        set_emulator_config(emulator, {"api_error_rate": 0.0})
    finally:
        set_emulator_config(emulator, {"api_error_rate": 0.0})
    a_text = _finish(a, a_out)
    assert b is not None
    b_text = _finish(b, b_out)
    assert a.returncode == 0 and "review_insights: submitted" in a_text, a_text[-3000:]
    assert b.returncode == 0, b_text[-3000:]
    assert "review_insights: submitted" not in b_text  # B attached to A's job
    jobs = demo.ledger()
    assert len(jobs) == 1 and jobs[0]["job_name"] and jobs[0]["state"] != "NOT_SUBMITTED", jobs
    demo.bq.get_table(jobs[0]["input_table"])  # A's input table is still there for its job
    done = demo.gb("collect", "--select", "review_insights", "--wait")
    assert "SUCCEEDED" in done.output


def test_a_create_that_succeeded_but_answered_503_while_the_list_lags_gives_one_job(
    demo: DemoProject, emulator: str, job_client: aiplatform_v1.JobServiceClient
) -> None:
    set_emulator_config(
        emulator,
        {"api_error_rate": 1.0, "api_error_methods": ["create"], "api_error_codes": [503],
         "api_error_after_commit": True, "list_lag_seconds": 20},
    )  # fmt: skip
    try:
        run = demo.gb("run", "--select", "+review_insights")
    finally:
        set_emulator_config(emulator, {"list_lag_seconds": 0.0, "api_error_rate": 0.0})
    assert "looking for it" in run.output
    jobs = demo.ledger()
    assert len(jobs) == 1 and jobs[0]["state"] == "JOB_STATE_SUCCEEDED", jobs
    vertex_jobs = [
        j
        for j in job_client.list_batch_prediction_jobs(parent=jobs[0]["job_name"].rsplit("/batchPredictionJobs/", 1)[0])
        if j.input_config.bigquery_source.input_uri == f"bq://{jobs[0]['input_table']}"
    ]
    assert len(vertex_jobs) == 1  # created once: found by its label after the list caught up
