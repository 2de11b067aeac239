"""Checks before anything is built or submitted: a job location Vertex accepts, next to the model's dataset, a model
that location serves, and (check_file_uris) Cloud Storage objects that exist for the fileData parts of the rows to send.
Each failure says what to change; the location checks cost no query, the file check one query and one metadata read
per object checked (the file check reads the submission's pending rows, not m__requests), and none of them a job.

Vertex: "The region of the input BigQuery dataset must be the same as the Vertex AI batch prediction job", and the
BigQuery multi-regions US and EU are not Vertex locations
(cloud.google.com/vertex-ai/generative-ai/docs/model-reference/batch-prediction-api,
cloud.google.com/vertex-ai/docs/general/locations). Without these checks a mismatch shows only when Vertex's import
fails, after the staging and input tables were paid for.
"""

from __future__ import annotations

from collections.abc import Callable

from google.api_core import exceptions as gexc

from gemini_batch.batch import gcs
from gemini_batch.batch.common import BatchError
from gemini_batch.batch.context import BQ_REQUEST_SECONDS, BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.model_names import location_mismatch
from gemini_batch.settings import BatchSettings

MULTI_REGIONS = {"us", "eu"}
# `global` jobs: Google documents no same-region rule for them (its batch notebook GoogleCloudPlatform/generative-ai
# gemini/batch-prediction/intro_batch_prediction.ipynb submits BigQuery jobs with LOCATION=global), so the dataset's
# region is not compared; that is an assumption only real Vertex can confirm.
GLOBAL = "global"
# check_file_uris=sample reads at most this many distinct gs:// URIs of the rows to send (one metadata read each).
FILE_URI_SAMPLE = 100
MISSING_SHOWN = 10  # URIs named in the error; the count says how many more


def check_location(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> str:
    """The job's location, lower case; raises BatchError naming the model and the fix when Vertex would refuse it."""
    location = ctx.location(settings).lower()
    if location in MULTI_REGIONS:
        raise BatchError(
            f"{node.name}: the batch job location is {location.upper()}, a BigQuery multi-region, which Vertex AI "
            "batch prediction does not accept: keep the model's dataset in a region (e.g. us-central1, "
            "europe-west4) and set that region as the target's `location` (or vertex_location / "
            "GEMINI_BATCH_VERTEX_LOCATION)"
        )
    dataset_location = (ctx.bq.get_dataset(node.dataset).location or "").lower()
    if dataset_location in MULTI_REGIONS:
        raise BatchError(
            f"{node.name}: its dataset {node.dataset} is in the BigQuery multi-region {dataset_location.upper()}, "
            "which Vertex AI batch prediction cannot read: build the model in a dataset in a region (e.g. "
            f"{location if location != GLOBAL else 'us-central1'}; set the target's `location` or the model's "
            "schema to one)"
        )
    if location != GLOBAL and dataset_location != location:
        raise BatchError(
            f"{node.name}: its dataset {node.dataset} is in {dataset_location or 'an unknown location'} but the "
            f"batch job would run in {location}; Vertex AI reads only datasets in the job's region: set "
            f"vertex_location (or GEMINI_BATCH_VERTEX_LOCATION) to {dataset_location}, or build the model in a "
            f"dataset in {location}"
        )
    problem = location_mismatch(settings.model_resource, location)
    if problem:
        raise BatchError(f"{node.name}: {problem}")
    return location


def check_bucket_location(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> None:
    """transport gcs: the gcs_prefix bucket exists and is in the model's dataset's location; raises BatchError.

    BigQuery exports to, and loads from, a bucket only in the dataset's location ("Location considerations",
    cloud.google.com/bigquery/docs/exporting-data and loading-data-cloud-storage: a regional dataset needs a bucket in
    the same region). Checked before the chunk's table is exported; without it the export fails after the staging,
    or the load fails after the job was paid for. One metadata read (storage.buckets.get).
    """
    if settings.transport != "gcs" or not settings.gcs_prefix:
        return
    name, _ = gcs.split_uri(settings.gcs_prefix)
    dataset_location = (ctx.bq.get_dataset(node.dataset).location or "").lower()
    try:
        bucket = ctx.storage().get_bucket(name, timeout=BQ_REQUEST_SECONDS)
    except gexc.NotFound as exc:
        raise BatchError(
            f"{node.name}: the bucket of gcs_prefix, gs://{name}, does not exist: create it in {dataset_location} "
            "(the model's dataset's location) or point gcs_prefix at a bucket there"
        ) from exc
    except gexc.Forbidden as exc:
        raise BatchError(
            f"{node.name}: cannot read the metadata of gs://{name} to check its location ({exc.code}): give the "
            "account running dbt storage.buckets.get on the bucket (e.g. roles/storage.legacyBucketReader)"
        ) from exc
    bucket_location = (bucket.location or "").lower()
    if bucket_location != dataset_location:
        raise BatchError(
            f"{node.name}: the bucket gs://{name} (gcs_prefix) is in {bucket_location.upper() or 'an unknown location'}"
            f" but the model's dataset {node.dataset} is in {dataset_location}; BigQuery exports to and loads from "
            f"a bucket only in the dataset's location: use a bucket in {dataset_location} for gcs_prefix"
        )


def file_uris_sql(pending_table: str, mode: str) -> str:
    """The distinct gs:// fileData URIs of the rows to send (`pending_table`, submit.write_pending's); with `sample`
    at most FILE_URI_SAMPLE of them, spread over the URIs by fingerprint rather than the first ones in storage order.

    Requests are JSON text: contents[].parts[].fileData.fileUri (file_data.file_uri in snake_case requests, which
    Vertex accepts too). The materialization's check has already stopped rows whose contents or parts are not lists.
    Only rows whose text names a fileUri/file_uri key are read and parsed (a key written with \\u escapes is not
    checked).
    """
    limit = f"\n        limit {FILE_URI_SAMPLE:d}" if mode == "sample" else ""
    return f"""
        select uri
        from (
            select distinct
                coalesce(json_value(part, '$.fileData.fileUri'), json_value(part, '$.file_data.file_uri')) as uri
            from (
                -- file_request: the request of a row whose text names a fileUri/file_uri key, else NULL
                -- (write_pending): rows without a file part (most of a text model's) are neither read nor parsed
                select pending.file_request as request
                from `{pending_table}` as pending
                where pending.file_request is not null
            ) as pending
            cross join unnest(json_query_array(pending.request, '$.contents')) as content
            cross join unnest(json_query_array(content, '$.parts')) as part
        )
        where starts_with(uri, 'gs://')
        order by farm_fingerprint(uri){limit}
        """


def missing_objects(uris: list[str], exists: Callable[[str, str], bool]) -> list[str]:
    """The URIs whose object does not exist; `exists(bucket, name)` reads one object's metadata."""
    missing = []
    for uri in uris:
        bucket, name = gcs.split_uri(uri)
        if not name or not exists(bucket, name):
            missing.append(uri)
    return missing


def missing_message(node_name: str, mode: str, checked: int, missing: list[str]) -> str:
    shown = ", ".join(missing[:MISSING_SHOWN]) + (
        f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
    )
    scope = f"a sample of {checked}" if mode == "sample" else f"all {checked}"
    return (
        f"{node_name}: {len(missing)} Cloud Storage object(s) named by fileData parts of the rows to send do not exist "
        f"(check_file_uris={mode} checked {scope} distinct gs:// URIs): {shown}. Vertex would fail each such row hours "
        "later. Upload the files or fix the URIs; check_file_uris: 'off' skips this check"
    )


def check_file_uris(ctx: BatchContext, node: BatchNode, settings: BatchSettings, pending_table: str) -> int:
    """Stop the model before any table or job when a gs:// object its rows name is missing; returns URIs checked.

    Vertex reads each fileData object only when it answers the row, so a missing one would be a failed row after the
    job ran (and was paid for). One query picks the URIs (never the rows themselves into Python), then one metadata
    read per URI; `off` skips both, for tables of millions of files where even a sample is unwanted.
    """
    mode = settings.check_file_uris
    if mode == "off":
        return 0
    rows = ctx.sql(file_uris_sql(pending_table, mode), node=node.unique_id)
    uris = [str(r["uri"]) for r in rows]
    if not uris:
        return 0
    client = ctx.storage()

    def exists(bucket: str, name: str) -> bool:
        try:
            return client.bucket(bucket).get_blob(name, timeout=BQ_REQUEST_SECONDS) is not None
        except gexc.Forbidden as exc:
            raise BatchError(
                f"{node.name}: cannot read gs://{bucket}/{name} to check that it exists ({exc.code}): give the "
                "account running dbt storage.objects.get on the bucket, or set check_file_uris: 'off'"
            ) from exc

    missing = missing_objects(uris, exists)
    if missing:
        raise BatchError(missing_message(node.name, mode, len(uris), missing))
    ctx.progress.say(f"{node.name}: {len(uris)} Cloud Storage file(s) named by fileData parts exist")
    return len(uris)
