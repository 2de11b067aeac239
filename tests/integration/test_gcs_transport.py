"""`transport: gcs`: the demo's review model answered through Cloud Storage JSONL (BigQuery EXPORT DATA out, Vertex
gcsSource/gcsDestination, a BigQuery load job in) gives the same answer cache and the same marts as the BigQuery
transport, through the real dbt-bigquery, google-cloud-bigquery, google-cloud-storage and aiplatform clients."""

from __future__ import annotations

import json
import uuid

import pytest
from google.cloud import aiplatform_v1, storage

from gemini_batch.batch import gcs
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

MARTS = ("int_reviews__classified", "sentiment_by_product", "topic_counts")


def answers(demo: DemoProject) -> list[dict[str, object]]:
    return demo.rows(
        "select request_hash, request, status, to_json_string(response) as response, attempts "
        "from `{ds}.review_insights__responses` order by request_hash"
    )


def marts(demo: DemoProject) -> dict[str, list[str]]:
    return {m: sorted(json.dumps(r, sort_keys=True, default=str) for r in demo.rows(f"select * from `{{ds}}.{m}`"))
            for m in MARTS}  # fmt: skip


def test_gcs_transport_gives_the_same_answers_and_marts_as_bigquery(
    demo: DemoProject, bucket: storage.Bucket, job_client: aiplatform_v1.JobServiceClient
) -> None:
    demo.gb("run", "--select", "+tag:demo")
    by_bigquery, marts_by_bigquery = answers(demo), marts(demo)
    assert by_bigquery and all(a["status"] == "" for a in by_bigquery)
    (bq_job,) = demo.ledger()

    # forget every answer, then ask again through Cloud Storage
    demo.rows("delete from `{ds}.review_insights__responses` where true")
    prefix = f"gs://{bucket.name}/gemini-batch/runs"
    demo.add_review_model_meta(f"'transport': 'gcs', 'gcs_prefix': '{prefix}'")
    demo.gb("run", "--select", "+tag:demo")

    assert answers(demo) == by_bigquery
    assert marts(demo) == marts_by_bigquery

    # the ledger records the job as the BigQuery transport does; Vertex read and wrote JSONL under the prefix
    jobs = demo.ledger()
    assert len(jobs) == 2
    gcs_job = jobs[1]
    assert gcs_job["state"] == "JOB_STATE_SUCCEEDED" and gcs_job["job_name"] != bq_job["job_name"]
    assert gcs_job["request_count"] == gcs_job["succeeded_count"] == bq_job["request_count"] == len(by_bigquery)
    assert gcs_job["missing_count"] == 0 and gcs_job["mismatched_count"] == 0
    assert gcs_job["prompt_tokens"] == bq_job["prompt_tokens"] > 0
    job = job_client.get_batch_prediction_job(name=gcs_job["job_name"])
    folder = f"{prefix}/{gcs_job['input_table'].rsplit('.', 1)[-1]}"
    assert job.input_config.instances_format == "jsonl"
    assert list(job.input_config.gcs_source.uris) == [f"{folder}/input/requests-*.jsonl"]
    assert job.output_config.predictions_format == "jsonl"
    assert job.output_config.gcs_destination.output_uri_prefix == f"{folder}/output"
    assert job.output_info.gcs_output_directory.startswith(f"{folder}/output/prediction-model-")

    # after the merge, the job's objects and tables are gone
    assert [b.name for b in bucket.client.list_blobs(bucket.name)] == []
    assert [t.table_id for t in demo.bq.list_tables(demo.dataset) if "__batch_" in t.table_id] == []

    # `clean` deletes a collected job's folder that a killed run left behind, not a young one the ledger does not know
    leftover = f"{folder.removeprefix(f'gs://{bucket.name}/')}/output/prediction-model-x/predictions.jsonl"
    young = "gemini-batch/runs/review_insights__batch_29990101000000_abcdef_000/input/requests-000000000000.jsonl"
    for name in (leftover, young):
        bucket.blob(name).upload_from_string("{}\n")
    cleaned = demo.gb("clean", "--select", "review_insights")
    assert f"dropped {folder}/" in cleaned.output
    assert [b.name for b in bucket.client.list_blobs(bucket.name)] == [young]


def test_gcs_chunks_are_bounded_by_bytes_and_the_bucket_must_be_where_the_dataset_is(
    demo: DemoProject, bucket: storage.Bucket, storage_client: storage.Client
) -> None:
    # A bucket created without a location is in the US multi-region, as on Cloud Storage: BigQuery could neither
    # export the us-central1 dataset's requests there nor load the answers back, so nothing is exported or sent.
    us_bucket = storage_client.create_bucket(f"t-{uuid.uuid4().hex[:12]}")
    assert us_bucket.location == "US"
    try:
        meta = "'transport': 'gcs', 'gcs_prefix': 'gs://{}/runs', 'keep_job_tables': true"
        demo.add_review_batch_model("by_bytes", "meta={" + meta.format(us_bucket.name) + "}")
        refused = demo.gb("run", "--select", "+by_bytes", ok=False)
        assert f"the bucket gs://{us_bucket.name} (gcs_prefix) is in US but the model's dataset" in refused.output
        why = "is in us-central1; BigQuery exports to and loads from a bucket only in the dataset's location"
        assert why in refused.output
        assert list(storage_client.list_blobs(us_bucket.name)) == []
        assert [t.table_id for t in demo.bq.list_tables(demo.dataset) if "__batch_" in t.table_id] == []
    finally:
        us_bucket.delete()

    # In the dataset's region, with max_input_bytes_per_job about a third of the requests' JSONL: at least three jobs,
    # none of whose input files add up to more than the limit, and every request answered once.
    lines = gcs.line_bytes_sql("request", "request_hash")  # the JSONL line export writes, as the plan estimates it
    total, requests = demo.rows(
        f"select sum({lines}) as b, count(distinct request_hash) as n from `{{ds}}.by_bytes__requests`"
    )[0].values()
    limit = total // 3
    meta += f", 'max_input_bytes_per_job': {limit}"
    demo.add_review_batch_model("by_bytes", "meta={" + meta.format(bucket.name) + "}")
    demo.gb("run", "--select", "by_bytes")
    jobs = demo.ledger()
    assert len(jobs) >= 3 and all(j["state"] == "JOB_STATE_SUCCEEDED" for j in jobs)
    assert sum(j["request_count"] for j in jobs) == requests
    for job in jobs:
        folder = f"runs/{job['input_table'].rsplit('.', 1)[-1]}/input/"
        written = [b.size for b in storage_client.list_blobs(bucket.name, prefix=folder)]
        assert written and sum(written) <= limit
    assert demo.scalar("select count(*) from `{ds}.by_bytes__responses` where status = ''") == requests
