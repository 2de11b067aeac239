"""Google clients pointed at the local stack: no credentials, a plain http:// loopback endpoint.

The hook itself never uses these (it builds its clients from the dbt profile, see gemini_batch.clients); they serve
the emulator's own BigQuery access, the demo, the benchmarks and the tests.
"""

from __future__ import annotations

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1, bigquery, storage


def local_bigquery_client(endpoint: str, project: str, location: str | None = None) -> bigquery.Client:
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint},
        location=location,
    )


def local_job_client(endpoint: str) -> aiplatform_v1.JobServiceClient:
    """The real aiplatform JobServiceClient over REST (without `http://` it would try TLS)."""
    return aiplatform_v1.JobServiceClient(
        transport="rest", credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=endpoint)
    )


def local_storage_client(endpoint: str, project: str) -> storage.Client:
    """The real google-cloud-storage client against the local Cloud Storage emulator (gcp-storage-emulator).

    Passing the endpoint as api_endpoint works without $STORAGE_EMULATOR_HOST, so one process can talk to two stacks.
    """
    return storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )
