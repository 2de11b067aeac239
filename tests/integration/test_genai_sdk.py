"""Google's own google-genai batch sample (Cloud Storage input) against the local stack, pointed at it only by the
SDK's HTTP options and a fixed bearer token (the emulator needs no credentials)."""

from __future__ import annotations

import json
import time

import pytest
from google import genai
from google.cloud import storage
from google.genai.types import CreateBatchJobConfig, HttpOptions, JobState
from google.oauth2.credentials import Credentials

from gemini_batch.local.stack import StackInfo

pytestmark = pytest.mark.integration


def test_seed_sample_with_gcs_jsonl_runs_unchanged(
    local_stack: StackInfo, storage_client: storage.Client, bucket: storage.Bucket
) -> None:
    line = {"request": {"contents": [{"role": "user", "parts": [{"text": "What is a batch job?"}]}]}, "id": "q1"}
    bucket.blob("prompt_for_batch_gemini_predict.jsonl").upload_from_string(json.dumps(line) + "\n")
    client = genai.Client(
        vertexai=True,
        project=local_stack.project,
        location="us-central1",
        credentials=Credentials(token="local-emulator"),  # not a secret: the emulator ignores it
        http_options=HttpOptions(api_version="v1", base_url=local_stack.vertex_endpoint),
    )
    output_uri = f"gs://{bucket.name}/your-prefix"
    job = client.batches.create(
        model="gemini-2.5-flash",
        src=f"gs://{bucket.name}/prompt_for_batch_gemini_predict.jsonl",
        config=CreateBatchJobConfig(dest=output_uri),
    )
    assert job.name and job.state == JobState.JOB_STATE_PENDING
    completed = {JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED}
    for _ in range(600):
        if job.state in completed:
            break
        time.sleep(0.1)
        job = client.batches.get(name=job.name)
    assert job.state == JobState.JOB_STATE_SUCCEEDED, job.error
    assert job.dest is not None and job.dest.gcs_uri == output_uri
    assert job.name in [j.name for j in client.batches.list()]
    outputs = [b for b in storage_client.list_blobs(bucket.name, prefix="your-prefix/prediction-model-")]
    assert [b.name.rsplit("/", 1)[-1] for b in outputs] == ["predictions.jsonl"]
    answer = json.loads(outputs[0].download_as_text())
    assert answer["id"] == "q1" and answer["status"] == ""
