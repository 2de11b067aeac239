"""Checks before anything is built or submitted: a job location Vertex accepts, next to the model's dataset, and a
model that location serves. Each failure says what to change; none of them costs a query or a job.

Vertex: "The region of the input BigQuery dataset must be the same as the Vertex AI batch prediction job", and the
BigQuery multi-regions US and EU are not Vertex locations
(cloud.google.com/vertex-ai/generative-ai/docs/model-reference/batch-prediction-api,
cloud.google.com/vertex-ai/docs/general/locations). Without these checks a mismatch shows only when Vertex's import
fails, after the staging and input tables were paid for.
"""

from __future__ import annotations

from gemini_batch.batch.common import BatchError
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.model_names import location_mismatch
from gemini_batch.settings import BatchSettings

MULTI_REGIONS = {"us", "eu"}
# `global` jobs: Google documents no same-region rule for them (its batch notebook GoogleCloudPlatform/generative-ai
# gemini/batch-prediction/intro_batch_prediction.ipynb submits BigQuery jobs with LOCATION=global), so the dataset's
# region is not compared; that is an assumption only real Vertex can confirm.
GLOBAL = "global"


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
