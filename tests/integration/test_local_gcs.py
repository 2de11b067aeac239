"""The local Cloud Storage (gcp-storage-emulator, started by `dbt-gemini-batch local up`) through the real
google-cloud-storage client, and what bqemulator does with gs:// URIs on it."""

from __future__ import annotations

import json

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery, storage

pytestmark = pytest.mark.integration


def test_upload_download_and_list_through_the_real_client(
    storage_client: storage.Client, bucket: storage.Bucket
) -> None:
    lines = "\n".join(json.dumps({"request": {"contents": [{"parts": [{"text": f"q{i}"}]}]}, "k": i}) for i in range(3))
    bucket.blob("in/part-000.jsonl").upload_from_string(lines, content_type="application/jsonl")
    bucket.blob("in/part-001.jsonl").upload_from_string("{}\n", content_type="application/jsonl")
    bucket.blob("other/x.png").upload_from_string(b"\x89PNG....", content_type="image/png")

    names = sorted(b.name for b in storage_client.list_blobs(bucket.name, prefix="in/"))
    assert names == ["in/part-000.jsonl", "in/part-001.jsonl"]
    fetched = storage_client.bucket(bucket.name).get_blob("other/x.png")
    assert fetched is not None and fetched.content_type == "image/png" and fetched.size == 8
    read_back = bucket.blob("in/part-000.jsonl").download_as_text().splitlines()
    assert [json.loads(line)["k"] for line in read_back] == [0, 1, 2]
    assert storage_client.bucket(bucket.name).get_blob("in/missing.jsonl") is None
    with pytest.raises(gexc.NotFound):
        bucket.blob("in/missing.jsonl").download_as_bytes()


def test_bigquery_load_from_local_gcs(bq_client: bigquery.Client, bucket: storage.Bucket, dataset: str) -> None:
    """bqemulator resolves gs:// under BQEMU_GCS_LOCAL_ROOT, which `local up` points at the local Cloud Storage's
    folder: a load job reads an object uploaded through the storage client, as on Google Cloud."""
    bucket.blob("rows.jsonl").upload_from_string('{"a": 1}\n{"a": 2}\n')
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=[bigquery.SchemaField("a", "INTEGER")],
    )
    table = f"{bq_client.project}.{dataset}.loaded"
    bq_client.load_table_from_uri(f"gs://{bucket.name}/rows.jsonl", table, job_config=config).result(timeout=60)
    assert [r["a"] for r in bq_client.query(f"select a from `{table}` order by a").result()] == [1, 2]


def test_bigquery_export_to_local_gcs_is_listed_and_keeps_json_values(
    bq_client: bigquery.Client, storage_client: storage.Client, bucket: storage.Bucket, dataset: str
) -> None:
    """EXPORT DATA writes files into the local Cloud Storage's folder: the storage client lists and reads them (the
    local storage server adopts them), and a JSON column is a JSON value in the lines, as BigQuery writes it."""
    bq_client.query(
        f"""export data options (uri = 'gs://{bucket.name}/out/rows-*.jsonl', format = 'JSON', overwrite = true) as
        select 'h1' as request_hash, parse_json('{{"contents": [{{"parts": [{{"text": "hi"}}]}}]}}') as request"""
    ).result(timeout=60)
    (blob,) = storage_client.list_blobs(bucket.name, prefix="out/")
    assert blob.name == "out/rows-000000000000.jsonl" and blob.size > 0
    line = json.loads(bucket.blob(blob.name).download_as_text())
    assert line == {"request_hash": "h1", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}
