"""Every Google client the hook uses, built in one place from the dbt target's credentials.

BigQuery goes through dbt-bigquery's own client factory, so the hook authenticates exactly as dbt does (oauth,
service account, impersonation, and `api_endpoint` for the local emulator). Vertex AI uses the same credentials.
"""

from __future__ import annotations

from typing import Any

from google.api_core.client_options import ClientOptions
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.dbt_project import ProjectError
from gemini_batch.settings import BatchSettings


class LocalEndpointError(ProjectError):
    """A local BigQuery target without a Vertex endpoint: a misconfiguration, never sent to Google."""


def bigquery_client(credentials: Any) -> bigquery.Client:
    from dbt.adapters.bigquery.clients import create_bigquery_client

    return create_bigquery_client(credentials)


def job_service_client(credentials: Any, settings: BatchSettings, location: str) -> aiplatform_v1.JobServiceClient:
    """A JobServiceClient for the job's region; a `http://` endpoint override (the local emulator) uses plain REST."""
    from dbt.adapters.bigquery.credentials import create_google_credentials

    bigquery_endpoint = getattr(credentials, "api_endpoint", None) or ""
    if settings.vertex_endpoint is None and bigquery_endpoint.startswith("http://"):
        # A local BigQuery with Google's real Vertex would send the emulator's table names to Google: refuse.
        raise LocalEndpointError(
            f"the dbt target talks to a local BigQuery ({bigquery_endpoint}) but GEMINI_BATCH_VERTEX_ENDPOINT is not "
            "set, so batch jobs would go to Google's Vertex AI. Start the local stack with `dbt-gemini-batch local up` "
            "and run the `export` lines it prints (or set GEMINI_BATCH_VERTEX_ENDPOINT)."
        )
    endpoint = settings.vertex_endpoint or f"{location}-aiplatform.googleapis.com"
    transport = "rest" if endpoint.startswith("http://") else "grpc"
    return aiplatform_v1.JobServiceClient(
        transport=transport,
        credentials=create_google_credentials(credentials),
        client_options=ClientOptions(api_endpoint=endpoint),
    )
