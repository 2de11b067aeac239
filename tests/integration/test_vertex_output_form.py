"""A finished job's output rewritten into the form Vertex writes before collect, for both transports: every answer is
merged and the next run sends nothing.

The form, from Google's batch notebook (GoogleCloudPlatform/generative-ai, gemini/batch-prediction/
intro_batch_prediction.ipynb at 837b06614, "Retrieve batch prediction results") and the Cloud Storage page
(cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-from-cloud-storage), collected in
../shared/reference/vertex-output-shapes.md: the echoed request re-serialised with keys in alphabetical order and
the union of every object's fields across the file filled with null (`"file_data": null` on a text part), a failed
line with no `response` key and a `status` like `Bad Request: {"error": {"code": 400, ...}}`, lines in another
order than the input's. The Cloud Storage lines here also lose the sibling key on every other line, so collect must
read the hash from the request's labels there.

The rewrite is done here, by the test, on what the emulator wrote, so it holds whatever form the emulator writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from google.cloud import aiplatform_v1, bigquery, storage

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, set_emulator_config
from tests.integration.test_pipeline import BASELINE_FAULTS, distinct_prompts

pytestmark = pytest.mark.integration

FINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
# Part fields the notebook shows padded; added to the union so a text-only file is padded as one with files.
NOTEBOOK_PART_FIELDS = {"file_data": {}}


@pytest.fixture()
def failing_rows(local_stack: StackInfo) -> Iterator[None]:
    """A quarter of the rows fail with a 400, so the output holds failed lines too."""
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 0.25, "row_failure_code": 400})
    yield
    set_emulator_config(local_stack.vertex_endpoint, {**BASELINE_FAULTS, "row_failure_code": 500})


def _shape(values: list[Any]) -> dict[str, Any] | None:
    """The union of the fields of every object at each place (arrays' items merged), as a BigQuery-style import
    infers one schema for the whole file; None where the values are not objects."""
    objects = [v for v in values if isinstance(v, dict)]
    items = [item for v in values if isinstance(v, list) for item in v]
    if items:
        return {"[]": _shape(items)}
    if not objects:
        return None
    keys = sorted({k for o in objects for k in o})
    return {k: _shape([o.get(k) for o in objects]) for k in keys}


def _padded(value: Any, shape: dict[str, Any] | None) -> Any:
    if shape is None or value is None:
        return value
    if isinstance(value, list):
        return [_padded(v, shape.get("[]")) for v in value]
    if isinstance(value, dict):
        return {k: _padded(value.get(k), shape[k]) for k in sorted(shape)}
    return value


def vertex_form(requests: list[Any]) -> list[Any]:
    """Each request as Vertex echoes it: keys sorted, every object padded with null to the file's union of fields."""
    shape = _shape(requests)
    parts = (((shape or {}).get("contents") or {}).get("[]") or {}).get("parts") or {}
    if "[]" in parts and parts["[]"] is not None:
        parts["[]"] = {**NOTEBOOK_PART_FIELDS, **parts["[]"]}
    return [_padded(r, shape) for r in requests]


def wait_for(job_client: aiplatform_v1.JobServiceClient, name: str) -> aiplatform_v1.BatchPredictionJob:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = job_client.get_batch_prediction_job(name=name)
        if job.state.name in FINAL:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {name} did not finish")


def rewrite_table(bq: bigquery.Client, table_id: str) -> int:
    """The BigQuery output's `request` re-serialised (json.dumps' separators, as the notebook prints), a failed row's
    response NULL, the rows reloaded in reverse order. Returns how many failed rows there are."""
    table = bq.get_table(table_id)
    rows = [dict(r) for r in bq.list_rows(table)]
    echoed = vertex_form([json.loads(r["request"]) for r in rows])
    out = []
    for row, request in zip(rows, echoed, strict=True):
        out.append({
            **row,
            "request": json.dumps(request),
            "response": None if row["status"] else row["response"],
            "processed_time": row["processed_time"].isoformat(),
        })  # fmt: skip
    assert out and any(r["request"] != o["request"] for r, o in zip(rows, out, strict=True))
    config = bigquery.LoadJobConfig(schema=table.schema, write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
    bq.load_table_from_json(out[::-1], table_id, job_config=config).result()
    return sum(1 for r in out if r["status"])


def rewrite_jsonl(storage_client: storage.Client, directory: str) -> int:
    """predictions.jsonl as Vertex writes it: status, processed_time, request (re-serialised), response (absent on a
    failed line), the sibling key dropped from every other line, the lines reversed. Returns the failed lines."""
    bucket, _, name = directory.removeprefix("gs://").partition("/")
    blob = storage_client.bucket(bucket).blob(f"{name}/predictions.jsonl")
    lines = [json.loads(line) for line in blob.download_as_text().splitlines() if line.strip()]
    echoed = vertex_form([line["request"] for line in lines])
    out, failed = [], 0
    for i, (line, request) in enumerate(zip(lines, echoed, strict=True)):
        new: dict[str, Any] = {} if i % 2 else {"request_hash": line["request_hash"]}
        new |= {"status": line["status"], "processed_time": line["processed_time"], "request": request}
        if line["status"]:
            failed += 1
            assert line["status"].startswith("Bad Request: {"), line["status"]
        else:
            new["response"] = line["response"]
        out.append(json.dumps(new))
    blob.upload_from_string("\n".join(out[::-1]) + "\n", content_type="application/jsonl")
    return failed


@pytest.mark.parametrize("transport", ["bigquery", "gcs"])
def test_output_in_vertexs_form_is_merged_whole_and_the_next_run_sends_nothing(
    transport: str,
    demo: DemoProject,
    bucket: storage.Bucket,
    storage_client: storage.Client,
    job_client: aiplatform_v1.JobServiceClient,
    failing_rows: None,
) -> None:
    meta = "'max_attempts': 1, 'keep_job_tables': true"
    if transport == "gcs":
        meta += f", 'transport': 'gcs', 'gcs_prefix': 'gs://{bucket.name}/runs'"
    demo.add_review_model_meta(meta)
    demo.dbt("run", "--select", "+review_insights")
    demo.gb("submit", "--select", "review_insights")
    (entry,) = demo.ledger()
    job = wait_for(job_client, entry["job_name"])
    assert job.state.name == "JOB_STATE_SUCCEEDED"
    if transport == "gcs":
        failed = rewrite_jsonl(storage_client, job.output_info.gcs_output_directory)
    else:
        failed = rewrite_table(demo.bq, entry["output_table"])
    prompts = distinct_prompts(demo)
    assert 0 < failed < prompts

    collected = demo.gb("collect", "--select", "review_insights")
    assert "WARNING" not in collected.output, collected.output[-3000:]
    (entry,) = demo.ledger()
    assert (entry["succeeded_count"], entry["failed_count"]) == (prompts - failed, failed)
    assert (entry["missing_count"], entry["mismatched_count"]) == (0, 0)
    assert entry["prompt_tokens"] > 0
    cache = demo.rows(
        "select countif(status = '') as ok, countif(status like 'Bad Request: {%') as bad, "
        "countif(request like '%null%' or request like '%gemini_batch_hash%') as echoed "
        "from `{ds}.review_insights__responses`"
    )
    # every answer merged, every failure recorded with Vertex's status, and the request cached is the one sent
    assert cache == [{"ok": prompts - failed, "bad": failed, "echoed": 0}]

    again = demo.gb("run", "--select", "+review_insights")
    assert len(demo.ledger()) == 1, again.output[-3000:]
