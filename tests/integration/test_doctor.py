"""`dbt-gemini-batch doctor` on the local stack: every check runs and passes on a healthy project, and each failure
names what is missing and how to fix it. Permissions are taken away through the stack's IAM file, which the local
BigQuery (tables.testIamPermissions, Resource Manager at its endpoint) and Cloud Storage answer from."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import storage

from gemini_batch.local import iam
from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

AGENT = "service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"


@pytest.fixture()
def iam_file(local_stack: StackInfo) -> Iterator[Path]:
    path = Path(local_stack.iam_file)
    yield path
    path.unlink(missing_ok=True)  # everything granted again for the next test


def test_doctor_runs_every_check_and_names_each_missing_permission(
    demo: DemoProject, bucket: storage.Bucket, storage_client: storage.Client, iam_file: Path
) -> None:
    demo.add_review_model_meta(f"'transport': 'gcs', 'gcs_prefix': 'gs://{bucket.name}/runs'")
    demo.dbt("run", "--select", "+review_insights")

    healthy = demo.gb("doctor", "--select", "review_insights").output
    for line in (
        "WARN  credentials: user credentials (method oauth-secrets) without a quota_project in the profile",
        f"PASS  location review_insights: dataset {demo.bq.project}.{demo.dataset} and the batch jobs are in "
        "us-central1",
        f"PASS  permissions project {demo.bq.project}: bigquery.jobs.create",
        f"PASS  permissions vertex {demo.bq.project}: aiplatform.batchPredictionJobs.create",
        "PASS  permissions review_insights__requests: bigquery.tables.get, bigquery.tables.getData",
        "PASS  permissions review_insights__responses: bigquery.tables.get, bigquery.tables.getData, "
        "bigquery.tables.updateData, bigquery.tables.update",
        "PASS  permissions ledger:",
        f"PASS  service agent on {demo.bq.project}.{demo.dataset}: {AGENT} has roles/aiplatform.serviceAgent",
        f"PASS  permissions bucket gs://{bucket.name}: storage.objects.create",
        f"PASS  location bucket gs://{bucket.name}: in the dataset's location",
    ):
        assert line in healthy, healthy
    assert "FAIL" not in healthy and "ready for a first run" in healthy

    # Take away one permission of each kind, and the service agent's role: each is a FAIL line naming it.
    iam.write(
        iam_file,
        denied=[
            "bigquery.jobs.create",
            "aiplatform.batchPredictionJobs.create",
            f"bigquery.tables.updateData@{demo.table('review_insights__responses')}",
            "storage.objects.delete",
            "bigquery.tables.create",
        ],
        bindings=[],
    )
    sick = demo.gb("doctor", "--select", "review_insights", ok=False)
    assert sick.returncode == 1
    out = sick.output
    for line in (
        f"FAIL  permissions project {demo.bq.project}: missing bigquery.jobs.create",
        f"fix: grant roles/bigquery.jobUser on {demo.bq.project}",
        f"FAIL  permissions vertex {demo.bq.project}: missing aiplatform.batchPredictionJobs.create",
        f"fix: grant roles/aiplatform.user on {demo.bq.project}",
        f"FAIL  permissions review_insights__responses: missing bigquery.tables.updateData on "
        f"{demo.table('review_insights__responses')}",
        f"FAIL  permissions bucket gs://{bucket.name}: missing storage.objects.delete (review_insights, transport gcs)",
        f"fix: grant roles/storage.objectAdmin on gs://{bucket.name}",
        f"WARN  permissions datasets {demo.bq.project}.{demo.dataset}: bigquery.tables.create not granted on project",
        f"FAIL  service agent on {demo.bq.project}.{demo.dataset}: the Vertex AI service agent {AGENT} has no role",
        f"fix: grant {AGENT} roles/bigquery.dataEditor on the dataset {demo.bq.project}.{demo.dataset}",
        "fix the failures above before the first paid run",
    ):
        assert line in out, out
    # the requests table keeps every permission: only the one denied on the responses table is named
    assert "PASS  permissions review_insights__requests" in out

    # A bucket in the US multi-region and a job location away from the dataset: both named, with the fix.
    iam_file.unlink()
    us_bucket = storage_client.create_bucket(f"t-{uuid.uuid4().hex[:12]}")
    try:
        model = demo.root / "models" / "demo" / "batch" / "review_insights.sql"
        model.write_text(model.read_text().replace(f"gs://{bucket.name}/", f"gs://{us_bucket.name}/"))
        demo.add_review_model_meta("'vertex_location': 'europe-west4'")
        demo.dbt("parse")
        placed = demo.gb("doctor", "--select", "review_insights", ok=False).output
        assert (
            f"FAIL  location review_insights: its dataset {demo.bq.project}.{demo.dataset} is in us-central1 but the "
            "batch job would run in europe-west4" in placed
        ), placed
        assert (
            f"FAIL  location bucket gs://{us_bucket.name}: the bucket gs://{us_bucket.name} (gcs_prefix) is in US"
            in (placed)
        )
    finally:
        us_bucket.delete()


def test_doctor_canary_records_what_vertex_wrote_and_status_shows_it(demo: DemoProject, bucket: storage.Bucket) -> None:
    # one model per transport: the canary sends one 3-row job through each
    demo.add_review_batch_model(
        "by_files",
        f"gemini_model='gemini-2.5-flash', meta={{'transport': 'gcs', 'gcs_prefix': 'gs://{bucket.name}/c'}}",
    )
    demo.dbt("run", "--select", "+review_insights", "by_files")

    refused = demo.gb("doctor", "--select", "review_insights", "by_files", "--canary", ok=False)
    assert "canary: 2 batch job(s) of 3 rows on gemini-2.5-flash (bigquery, gcs transport), at most USD 0.000138" in (
        refused.output
    ), refused.output
    assert "canary not sent: confirm with --yes" in refused.output  # no terminal to ask: nothing sent

    sent = demo.gb("doctor", "--select", "review_insights", "by_files", "--canary", "--yes").output
    found = json.loads((demo.root / "target" / "gemini_batch_canary.json").read_text())
    by_bq, by_files = found["transports"]["bigquery"], found["transports"]["gcs"]
    for result in (by_bq, by_files):
        assert result["state"] == "JOB_STATE_SUCCEEDED" and result["rows"] == 3
        assert result["request_hash_echoed"] == 3
        assert result["failed_row"]["status"].startswith("Bad Request")
        assert result["echo_form"]  # how the request came back, whatever it is
    assert {"request_hash", "canary_key", "request", "response", "status"} <= set(by_bq["columns"])
    assert {"request_hash", "canary_key", "request", "status"} <= set(by_files["keys"])
    assert found["if_match_honoured"] is True  # the local BigQuery refuses a stale If-Match, as BigQuery does
    assert "BigQuery If-Match on a table patch: honoured (412 on a stale etag)" in sent
    # nothing of the canary is left behind
    assert [t.table_id for t in demo.bq.list_tables(demo.dataset) if "canary" in t.table_id] == []
    assert [b.name for b in bucket.client.list_blobs(bucket.name) if "canary" in b.name] == []

    status = demo.gb("status", "--select", "review_insights").output
    assert f"canary {found['checked_at']} (gemini-2.5-flash, us-central1):" in status
    assert "  bigquery: request echoed" in status and "  gcs: request echoed" in status


def test_doctor_names_a_missing_bucket_and_skips_tables_not_built_yet(demo: DemoProject) -> None:
    missing_bucket = f"t-{uuid.uuid4().hex[:12]}"
    demo.add_review_batch_model(
        "unbuilt",
        f"gemini_model='gemini-2.5-flash', meta={{'transport': 'gcs', 'gcs_prefix': 'gs://{missing_bucket}/x'}}",
    )
    demo.dbt("parse")
    out = demo.gb("doctor", "--select", "unbuilt", ok=False).output
    assert f"SKIP  permissions unbuilt__requests: {demo.table('unbuilt__requests')} does not exist yet" in out, out
    assert "fix: run `dbt run --select unbuilt` first" in out
    assert f"FAIL  bucket gs://{missing_bucket}: does not exist" in out
    assert "fix: create it in the dataset's location" in out
