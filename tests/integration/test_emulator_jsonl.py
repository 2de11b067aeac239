"""The Vertex emulator's Cloud Storage JSONL path through the real aiplatform REST client and google-cloud-storage:
gcsSource in, gcsDestination out, extra keys echoed, failed lines, wildcards, the file size limit, missing objects,
and fileData parts answered from the object's metadata."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
from google.cloud import aiplatform_v1, storage

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import set_emulator_config

pytestmark = pytest.mark.integration
LOCATION = "us-central1"
FINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"}


def _line(text: str, **extra: Any) -> str:
    return json.dumps({"request": {"contents": [{"role": "user", "parts": [{"text": text}]}]}, **extra})


def _run(job_client: aiplatform_v1.JobServiceClient, project: str, uris: list[str], prefix: str) -> Any:
    job = job_client.create_batch_prediction_job(
        parent=f"projects/{project}/locations/{LOCATION}",
        batch_prediction_job={
            "display_name": "jsonl-contract",
            "model": "publishers/google/models/gemini-2.5-flash",
            "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": uris}},
            "output_config": {"predictions_format": "jsonl", "gcs_destination": {"output_uri_prefix": prefix}},
        },
    )
    deadline = time.monotonic() + 120
    while job.state.name not in FINAL and time.monotonic() < deadline:
        time.sleep(0.2)
        job = job_client.get_batch_prediction_job(name=job.name)
    assert job.state.name in FINAL, job
    return job


def _output(storage_client: storage.Client, directory: str) -> list[dict[str, Any]]:
    bucket, _, name = directory.removeprefix("gs://").partition("/")
    blob = storage_client.bucket(bucket).get_blob(f"{name}/predictions.jsonl")
    assert blob is not None, f"no predictions.jsonl under {directory}"
    return [json.loads(line) for line in blob.download_as_text().splitlines()]


def _upload_inputs(bucket: storage.Bucket) -> list[str]:
    """Four requests in two files (one failing: a bad role) and one a single `*` does not match; returns the lines in
    input order."""
    good = [_line(f"Review number {i} is great", request_hash=f"h{i}", n=i, id=f"00{i}") for i in range(3)]
    bad = json.dumps({"request": {"contents": [{"role": "robot", "parts": [{"text": "x"}]}]}, "request_hash": "bad"})
    bucket.blob("in/a.jsonl").upload_from_string("\n".join([*good[:2], bad]) + "\n")
    bucket.blob("in/b.jsonl").upload_from_string(good[2] + "\n")
    bucket.blob("in/nested/c.jsonl").upload_from_string(_line("not matched by a single star") + "\n")
    return [*good[:2], bad, good[2]]


def test_jsonl_out_is_written_as_vertex_writes_it(
    local_stack: StackInfo,
    job_client: aiplatform_v1.JobServiceClient,
    storage_client: storage.Client,
    bucket: storage.Bucket,
) -> None:
    """The default `echo: vertex` (emulator/echo.py): the form of Google's notebook and Cloud Storage page."""
    inputs = _upload_inputs(bucket)
    job = _run(job_client, local_stack.project, [f"gs://{bucket.name}/in/*.jsonl"], f"gs://{bucket.name}/out")

    assert job.state.name == "JOB_STATE_SUCCEEDED", job.error
    directory = job.output_info.gcs_output_directory
    assert directory.startswith(f"gs://{bucket.name}/out/prediction-model-") and directory.endswith("Z")
    lines = _output(storage_client, directory)
    by_hash = {line["request_hash"]: line for line in lines}
    assert sorted(by_hash) == ["bad", "h0", "h1", "h2"]  # in/nested/c.jsonl is not matched by `*`
    sent = [json.loads(line)["request_hash"] for line in inputs]
    assert [line["request_hash"] for line in lines] != sent, "lines come back in another order than the input's"
    for i in range(3):
        line = by_hash[f"h{i}"]
        # status, processed_time, request, response, then the other keys; numeric-looking `id` read as a number
        assert list(line) == ["status", "processed_time", "request", "response", "id", "n", "request_hash"]
        assert line["status"] == "" and line["n"] == i and line["id"] == i
        assert line["request"] == {"contents": [{"parts": [{"text": f"Review number {i} is great"}], "role": "user"}]}
        assert list(line["response"]) == sorted(line["response"])
        assert line["response"]["candidates"][0]["content"]["parts"][0]["text"]
        assert line["processed_time"].endswith("+00:00")
    bad = by_hash["bad"]
    assert "response" not in bad  # a failed line has no response at all
    assert (bad["id"], bad["n"]) == (None, None)  # keys of the other lines, as null
    assert bad["status"].startswith('Bad Request: {"error": {"code": 400, ') and "valid role" in bad["status"]
    assert (job.completion_stats.successful_count, job.completion_stats.failed_count) == (3, 1)


def test_echo_verbatim_keeps_the_input_as_given(
    local_stack: StackInfo,
    job_client: aiplatform_v1.JobServiceClient,
    storage_client: storage.Client,
    bucket: storage.Bucket,
) -> None:
    inputs = _upload_inputs(bucket)
    config_url = f"{local_stack.vertex_endpoint}/emulator/config"
    requests.post(config_url, json={"echo": "verbatim"}, timeout=10).raise_for_status()
    try:
        job = _run(job_client, local_stack.project, [f"gs://{bucket.name}/in/*.jsonl"], f"gs://{bucket.name}/out")
    finally:
        requests.post(config_url, json={"echo": "vertex"}, timeout=10).raise_for_status()
    lines = _output(storage_client, job.output_info.gcs_output_directory)
    assert [line["request_hash"] for line in lines] == [json.loads(line)["request_hash"] for line in inputs]
    for line, given in zip(lines, inputs, strict=True):
        assert line["request"] == json.loads(given)["request"]
        assert {k: line[k] for k in json.loads(given) if k != "request"} == {
            k: v for k, v in json.loads(given).items() if k != "request"
        }
    assert lines[2]["response"] == {} and lines[2]["status"].startswith("Bad Request: ")


def test_missing_input_object_fails_the_job(
    local_stack: StackInfo, job_client: aiplatform_v1.JobServiceClient, bucket: storage.Bucket
) -> None:
    job = _run(job_client, local_stack.project, [f"gs://{bucket.name}/nope.jsonl"], f"gs://{bucket.name}/out")
    assert job.state.name == "JOB_STATE_FAILED"
    assert job.error.code == 3 and job.error.message.startswith("Failed to import data.")
    assert f"gs://{bucket.name}/nope.jsonl" in job.error.message


def test_input_file_over_the_size_limit_fails_the_job(
    local_stack: StackInfo, job_client: aiplatform_v1.JobServiceClient, bucket: storage.Bucket
) -> None:
    content = "\n".join(_line(f"row {i}") for i in range(20)) + "\n"
    bucket.blob("big.jsonl").upload_from_string(content)
    limit = len(content.encode()) - 1
    # put back after the test by tests/conftest.py (faults_never_outlive_their_test)
    set_emulator_config(local_stack.vertex_endpoint, {"max_input_file_bytes": limit})
    job = _run(job_client, local_stack.project, [f"gs://{bucket.name}/big.jsonl"], f"gs://{bucket.name}/out")
    assert job.state.name == "JOB_STATE_FAILED"
    assert f"at most {limit} bytes" in job.error.message


def test_input_files_over_the_size_limit_together_fail_the_job(
    local_stack: StackInfo, job_client: aiplatform_v1.JobServiceClient, bucket: storage.Bucket
) -> None:
    # Vertex's 1 GB of Cloud Storage input, read per job: two files each under the limit, together over it
    content = "\n".join(_line(f"row {i}") for i in range(10)) + "\n"
    for name in ("in/part-1.jsonl", "in/part-2.jsonl"):
        bucket.blob(name).upload_from_string(content)
    limit = 2 * len(content.encode()) - 1
    # put back after the test by tests/conftest.py (faults_never_outlive_their_test)
    set_emulator_config(local_stack.vertex_endpoint, {"max_input_file_bytes": limit})
    job = _run(job_client, local_stack.project, [f"gs://{bucket.name}/in/*.jsonl"], f"gs://{bucket.name}/out")
    assert job.state.name == "JOB_STATE_FAILED"
    assert f"2 input files add up to {limit + 1} bytes" in job.error.message
    assert f"at most {limit} bytes of Cloud Storage input" in job.error.message


def test_file_data_answered_from_object_metadata_and_missing_object_is_a_row_error(
    local_stack: StackInfo,
    job_client: aiplatform_v1.JobServiceClient,
    storage_client: storage.Client,
    bucket: storage.Bucket,
) -> None:
    bucket.blob("img/cat.png").upload_from_string(b"\x89PNG" + b"0" * 96, content_type="image/png")
    bucket.blob("img/dog.png").upload_from_string(b"\x89PNG" + b"0" * 996, content_type="image/png")

    def file_line(uri: str, key: str) -> str:
        part = {"fileData": {"fileUri": uri, "mimeType": "image/png"}}
        body = {"contents": [{"role": "user", "parts": [{"text": "Describe the picture."}, part]}]}
        return json.dumps({"request": body, "key": key})

    rows = [
        file_line(f"gs://{bucket.name}/img/cat.png", "cat"),
        file_line(f"gs://{bucket.name}/img/dog.png", "dog"),
        file_line(f"gs://{bucket.name}/img/missing.png", "missing"),
    ]
    bucket.blob("files.jsonl").upload_from_string("\n".join(rows) + "\n")
    job = _run(job_client, local_stack.project, [f"gs://{bucket.name}/files.jsonl"], f"gs://{bucket.name}/out")
    assert job.state.name == "JOB_STATE_SUCCEEDED", job.error
    by_key = {line["key"]: line for line in _output(storage_client, job.output_info.gcs_output_directory)}

    def text(key: str) -> str:
        return str(by_key[key]["response"]["candidates"][0]["content"]["parts"][0]["text"])

    assert "cat.png" in text("cat") and "100 bytes" in text("cat")
    assert "dog.png" in text("dog") and "1000 bytes" in text("dog")
    assert "response" not in by_key["missing"]
    assert f"gs://{bucket.name}/img/missing.png" in by_key["missing"]["status"]
