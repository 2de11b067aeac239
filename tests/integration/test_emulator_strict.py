"""The emulator refuses what Vertex refuses, the way Vertex does, through the real aiplatform REST client.

Models at create, unknown or invalid request fields as row errors, the global location and dataset regions, the cap on
running jobs, queue expiry, and the two forms of outputInfo.bigqueryOutputTable. Helpers come from the contract tests.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration import test_emulator_contract as contract
from tests.integration.test_emulator_contract import (
    LOCATION,
    POSITIVE_REVIEW,
    PROJECT_NUMBER,
    create_job,
    error_status,
    list_jobs,
    make_input,
    output_rows,
    rest,
    review_request,
    stats,
)

pytestmark = pytest.mark.integration

# The contract tests' fixtures, shared by name.
emulator_factory = contract.emulator_factory
other_dataset = contract.other_dataset
project = contract.project

State = aiplatform_v1.JobState
FINISHED = {
    State.JOB_STATE_SUCCEEDED,
    State.JOB_STATE_FAILED,
    State.JOB_STATE_CANCELLED,
    State.JOB_STATE_EXPIRED,
}
USER = {"role": "user", "parts": [{"text": "Classify: great product."}]}
UNKNOWN = "Invalid JSON payload received. Unknown name"


def wait_finished(
    client: aiplatform_v1.JobServiceClient, name: str, timeout: float = 60.0
) -> aiplatform_v1.BatchPredictionJob:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_batch_prediction_job(name=name)
        if job.state in FINISHED:
            return job
        assert time.monotonic() < deadline, f"job still {job.state.name} after {timeout}s"
        time.sleep(0.05)


# -- models --------------------------------------------------------------------------------------------------
def test_a_model_batch_does_not_serve_is_refused_at_create(
    job_client: aiplatform_v1.JobServiceClient,
    local_stack: StackInfo,
    bq_client: bigquery.Client,
    dataset: str,
    project: str,
) -> None:
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    output = f"bq://{project}.{dataset}"
    with pytest.raises(exceptions.BadRequest) as err:
        create_job(job_client, project, uri, output, model="publishers/google/models/gemini-9-ultra", labels={"m": "x"})
    assert error_status(err) == "INVALID_ARGUMENT"
    assert err.value.message.endswith(": Do not support publisher model gemini-9-ultra")
    assert list_jobs(job_client, project, filter="labels.m=x") == [], "nothing was created"
    body = {
        "displayName": "raw",
        "model": "publishers/google/models/gemini-9-ultra",
        "inputConfig": {"instancesFormat": "bigquery", "bigquerySource": {"inputUri": uri}},
        "outputConfig": {"predictionsFormat": "bigquery", "bigqueryDestination": {"outputUri": output}},
    }
    status, answer = rest(
        local_stack.vertex_endpoint, "POST", f"/v1/projects/{project}/locations/{LOCATION}/batchPredictionJobs", body
    )
    assert (status, answer) == (
        400,
        {
            "error": {
                "code": 400,
                "message": "Do not support publisher model gemini-9-ultra",
                "status": "INVALID_ARGUMENT",
            }
        },
    )


@pytest.mark.parametrize(
    "model",
    [
        "publishers/google/models/gemini-2.0-flash-001@default",
        "publishers/google/models/gemini-2.5-flash-lite",
        "publishers/google/models/gemini-3-pro-preview",
        f"projects/{PROJECT_NUMBER}/locations/{LOCATION}/publishers/google/models/gemini-2.5-pro",
    ],
)
def test_served_models_run(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str, model: str
) -> None:
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = wait_finished(job_client, create_job(job_client, project, uri, f"bq://{project}.{dataset}", model=model).name)
    assert job.state == State.JOB_STATE_SUCCEEDED
    assert job.model == model


def test_extra_models_and_tuned_models_come_from_the_config(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    tuned = f"projects/{project}/locations/{LOCATION}/models/987"
    _, strict = emulator_factory()
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    output = f"bq://{project}.{dataset}"
    with pytest.raises(exceptions.BadRequest, match="Do not support publisher model gemini-4-flash"):
        create_job(strict, project, uri, output, model="publishers/google/models/gemini-4-flash")
    with pytest.raises(exceptions.NotFound, match="The Model does not exist"):
        create_job(strict, project, uri, output, model=tuned)
    _, extended = emulator_factory(extra_publisher_models=["gemini-4-flash"], tuned_models=[tuned])
    for model in ("publishers/google/models/gemini-4-flash", tuned):
        job = wait_finished(extended, create_job(extended, project, uri, output, model=model).name)
        assert job.state == State.JOB_STATE_SUCCEEDED, model


# -- requests ------------------------------------------------------------------------------------------------
def test_request_mistakes_are_row_errors_with_vertex_text(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    file_part = {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"contents": [USER], "generationConfig": {"temperature": 0.1}}, ""),
        (
            {"contents": [USER], "generationConfig": {"temprature": 0.1}},
            f"""{UNKNOWN} \\"temprature\\" at 'generation_config': Cannot find field.""",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"text": "x", "thougth": True}]}]},
            f"""{UNKNOWN} \\"thougth\\" at 'contents[0].parts[0]': Cannot find field.""",
        ),
        ({"contents": [{"role": "user", "parts": [{"text": ""}]}]}, "empty text parameter"),
        ({"contents": [{"role": "user", "parts": [{"text": "Describe."}, file_part]}]}, "Unsupported file uri"),
        ({"contents": [USER], "labels": {"Cost-Center": "a"}}, "Invalid label key"),
    ]
    uri = make_input(bq_client, dataset, [request for request, _ in cases])
    job = wait_finished(job_client, create_job(job_client, project, uri, f"bq://{project}.{dataset}").name)
    assert job.state == State.JOB_STATE_SUCCEEDED, "row errors do not fail the job"
    assert stats(job) == (1, len(cases) - 1, 0)
    for row, (_, expected) in zip(output_rows(bq_client, job), cases, strict=True):
        if not expected:
            assert row["status"] == "" and row["response"]["candidates"]
            continue
        assert row["status"].startswith('Bad Request: {"error": {"code": 400, "message": "'), row["status"]
        assert row["status"].endswith('"status": "INVALID_ARGUMENT"}}'), row["status"]
        assert expected in row["status"], row["status"]
        assert row["response"] is None, "a failed row has no response (NULL in a BigQuery output)"


# -- locations -----------------------------------------------------------------------------------------------
def test_global_location_runs_jobs_on_regional_datasets_and_refuses_multi_regions(
    job_client: aiplatform_v1.JobServiceClient,
    bq_client: bigquery.Client,
    dataset: str,
    other_dataset: Callable[[str], str],
    project: str,
) -> None:
    parent = f"projects/{project}/locations/global"
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = create_job(job_client, project, uri, f"bq://{project}.{dataset}", parent=parent)
    assert re.fullmatch(rf"projects/{PROJECT_NUMBER}/locations/global/batchPredictionJobs/\d{{19}}", job.name)
    done = wait_finished(job_client, job.name)
    assert done.state == State.JOB_STATE_SUCCEEDED
    assert [j.name for j in job_client.list_batch_prediction_jobs(parent=parent)] == [job.name]
    multi = other_dataset("US")
    uri = make_input(bq_client, multi, [review_request(POSITIVE_REVIEW)])
    failed = wait_finished(
        job_client, create_job(job_client, project, uri, f"bq://{project}.{multi}", parent=parent).name
    )
    assert failed.state == State.JOB_STATE_FAILED
    assert failed.error.code == 3 and failed.error.message.startswith("Failed to import data. ")
    assert "multi-region US" in failed.error.message


def test_a_location_that_is_no_region_is_refused(job_client: aiplatform_v1.JobServiceClient, project: str) -> None:
    with pytest.raises(exceptions.BadRequest) as err:
        list_jobs_in(job_client, f"projects/{project}/locations/US")
    assert error_status(err) == "INVALID_ARGUMENT"


def list_jobs_in(client: aiplatform_v1.JobServiceClient, parent: str) -> list[aiplatform_v1.BatchPredictionJob]:
    return list(client.list_batch_prediction_jobs(parent=parent))


# -- the queue -----------------------------------------------------------------------------------------------
def test_jobs_beyond_the_cap_wait_queued_and_never_run_together(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(max_concurrent_jobs=1, run_delay_seconds=0.5, waiting_state="QUEUED")
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    names = [create_job(client, project, uri, f"bq://{project}.{dataset}").name for _ in range(3)]
    seen: set[int] = set()
    while True:
        jobs = [client.get_batch_prediction_job(name=name) for name in names]
        seen.update(job.state for job in jobs)
        if all(job.state in FINISHED for job in jobs):
            break
        time.sleep(0.05)
    assert State.JOB_STATE_QUEUED in seen
    assert [job.state for job in jobs] == [State.JOB_STATE_SUCCEEDED] * 3
    # Never two at once: the jobs' own run intervals do not overlap (reading three states one after another could
    # catch one job just before it ended and the next just after it started).
    runs = sorted((job.start_time, job.end_time) for job in jobs)
    for (_, end), (next_start, _) in itertools.pairwise(runs):
        assert end <= next_start, runs


def test_a_job_that_waits_past_the_queue_limit_expires(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(max_concurrent_jobs=1, run_delay_seconds=60, max_queue_seconds=0.5)
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    output = f"bq://{project}.{dataset}"
    running = create_job(client, project, uri, output, display_name="holds-the-slot")
    while client.get_batch_prediction_job(name=running.name).state != State.JOB_STATE_RUNNING:
        time.sleep(0.05)
    waiting = create_job(client, project, uri, output, display_name="waits")
    expired = wait_finished(client, waiting.name)
    assert expired.state == State.JOB_STATE_EXPIRED
    assert "expired" in expired.error.message and not expired.start_time
    client.cancel_batch_prediction_job(name=running.name)
    assert wait_finished(client, running.name).state == State.JOB_STATE_CANCELLED


# -- outputInfo ----------------------------------------------------------------------------------------------
def test_output_table_can_be_reported_as_the_bare_predictions_name(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(output_table_format="name")
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = wait_finished(client, create_job(client, project, uri, f"bq://{project}.{dataset}").name)
    table = job.output_info.bigquery_output_table
    assert re.fullmatch(r"predictions_\d{4}_\d\d_\d\dT\d\d_\d\d_\d\d_\d{3}Z_\d{3}", table), table
    assert job.output_info.bigquery_output_dataset == f"bq://{project}.{dataset}"
    rows = list(bq_client.list_rows(f"{project}.{dataset}.{table}"))
    assert len(rows) == 1 and rows[0]["status"] == ""
