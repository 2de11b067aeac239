"""The demo's multimodal model (product_media_insights): fileData parts naming product files in the local Cloud
Storage, uploaded by the same function `make demo` uses, answered per file by the Vertex emulator through the real
dbt-bigquery, google-cloud-bigquery, google-cloud-storage and aiplatform clients; and check_file_uris stopping the model
before any job when a file is missing."""

from __future__ import annotations

import pytest
from google.cloud import storage

from gemini_batch.demo_media import read_media_seed, upload_media
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

SELECT = ("--select", "+product_media_insights")


def test_a_missing_file_stops_the_model_before_any_job_and_present_files_are_answered_by_mime_type(
    demo: DemoProject, storage_client: storage.Client
) -> None:
    items = read_media_seed(demo.root)
    assert {i.mime_type for i in items} == {"image/png", "image/jpeg", "application/pdf"}
    bucket = items[0].bucket
    for blob in storage_client.list_blobs(bucket) if storage_client.lookup_bucket(bucket) else []:
        blob.delete()  # another test of this session may have uploaded them
    absent = items[-1]
    upload_media(storage_client, items[:-1])

    # one object missing: the hook stops the model before any table or job (the ledger stays empty)
    failed = demo.gb("build", *SELECT, ok=False)
    assert failed.returncode != 0
    assert "product_media_insights: 1 Cloud Storage object(s) named by fileData parts" in failed.output
    assert absent.uri in failed.output and "check_file_uris=sample" in failed.output
    assert demo.rows("select count(*) as n from `{ds}.gemini_batch_jobs`") == [{"n": 0}]

    # every object there: one job answers every row, and the answer follows the file's MIME type
    upload_media(storage_client, items)
    demo.gb("build", *SELECT)
    rows = demo.rows(
        "select media_uri, mime_type, media_kind, description, output_state, status "
        "from `{ds}.product_media_insights` order by media_uri"
    )
    assert sorted(r["media_uri"] for r in rows) == sorted(i.uri for i in items)
    assert all(r["output_state"] == "answered" and r["status"] == "" for r in rows), rows
    for r in rows:
        assert r["media_kind"] == ("pdf" if r["mime_type"] == "application/pdf" else "image"), r
        # the emulator describes the object it read: its MIME type and its name
        assert r["mime_type"] in r["description"] and r["media_uri"].rsplit("/", 1)[-1] in r["description"], r
    assert len({r["description"] for r in rows}) == len(rows)
    (job,) = demo.ledger()
    assert job["state"] == "JOB_STATE_SUCCEEDED" and job["succeeded_count"] == len(items)
