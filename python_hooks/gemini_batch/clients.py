"""Every Google client the hook uses, built in one place from the dbt target's credentials.

BigQuery goes through dbt-bigquery's own client factory, so the hook authenticates exactly as dbt does (oauth,
service account, impersonation, and `api_endpoint` for the local emulator). Vertex AI uses the same credentials.
"""

from __future__ import annotations

from typing import Any

import google.oauth2.credentials
from google.api_core.client_options import ClientOptions
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.dbt_project import ProjectError
from gemini_batch.settings import BatchSettings

# Locations whose API host has no region prefix. Google's SDKs use https://aiplatform.googleapis.com for `global`
# (googleapis/python-aiplatform google/cloud/aiplatform/initializer.py `get_client_options`; googleapis/js-genai
# test "should use global endpoint when location is global").
GLOBAL_LOCATIONS = {"global"}


class LocalEndpointError(ProjectError):
    """A local BigQuery target without a Vertex endpoint: a misconfiguration, never sent to Google."""


def bigquery_client(credentials: Any) -> bigquery.Client:
    from dbt.adapters.bigquery.clients import create_bigquery_client

    return create_bigquery_client(credentials)


def vertex_host(location: str) -> str:
    """Google's Vertex AI API host for a location: `global` has no region prefix, regions do."""
    location = location.lower()
    if location in GLOBAL_LOCATIONS:
        return "aiplatform.googleapis.com"
    return f"{location}-aiplatform.googleapis.com"


def quota_project(credentials: Any, google_credentials: Any, settings: BatchSettings) -> str | None:
    """The project Vertex bills quota to, for user credentials only.

    User credentials (gcloud ADC, `method: oauth`/`oauth-secrets`) need a quota project, or Vertex answers 403 while
    BigQuery works (googleapis/python-aiplatform#2557). dbt-bigquery sends the profile's `quota_project` to BigQuery;
    Vertex gets the same, else the project that runs the jobs. Service accounts bill their own project: unchanged.
    """
    if not isinstance(google_credentials, google.oauth2.credentials.Credentials):
        return None
    profile_quota = getattr(credentials, "quota_project", None)
    return profile_quota or settings.vertex_project or getattr(credentials, "database", None)


def job_service_client(credentials: Any, settings: BatchSettings, location: str) -> aiplatform_v1.JobServiceClient:
    """A JobServiceClient for the job's region; a `http://` endpoint override (the local emulator) uses plain REST."""
    return aiplatform_v1.JobServiceClient(**_vertex_client_args(credentials, settings, location))


def llm_utility_client(
    credentials: Any, settings: BatchSettings, location: str
) -> aiplatform_v1.LlmUtilityServiceClient:
    """An LlmUtilityServiceClient (countTokens for the plan's estimates), built exactly like the job client."""
    return aiplatform_v1.LlmUtilityServiceClient(**_vertex_client_args(credentials, settings, location))


def _vertex_client_args(credentials: Any, settings: BatchSettings, location: str) -> dict[str, Any]:
    from dbt.adapters.bigquery.credentials import create_google_credentials

    bigquery_endpoint = getattr(credentials, "api_endpoint", None) or ""
    if settings.vertex_endpoint is None and bigquery_endpoint.startswith("http://"):
        # A local BigQuery with Google's real Vertex would send the emulator's table names to Google: refuse.
        raise LocalEndpointError(
            f"the dbt target talks to a local BigQuery ({bigquery_endpoint}) but GEMINI_BATCH_VERTEX_ENDPOINT is not "
            "set, so batch jobs would go to Google's Vertex AI. Start the local stack with `dbt-gemini-batch local up` "
            "and run the `export` lines it prints (or set GEMINI_BATCH_VERTEX_ENDPOINT)."
        )
    endpoint = settings.vertex_endpoint or vertex_host(location)
    transport = "rest" if endpoint.startswith("http://") else "grpc"
    google_credentials = create_google_credentials(credentials)
    billed = quota_project(credentials, google_credentials, settings)
    if billed:
        # The generated client applies ClientOptions.quota_project_id only to credentials it finds itself
        # (transports/base.py), not to the ones passed in: set it on them.
        google_credentials = google_credentials.with_quota_project(billed)
    return {
        "transport": transport,
        "credentials": google_credentials,
        "client_options": ClientOptions(api_endpoint=endpoint),
    }
