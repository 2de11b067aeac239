"""The Vertex client factory, offline: which host a location uses, and which project user credentials bill."""

from __future__ import annotations

from typing import Any

import pytest
from dbt.adapters.bigquery.credentials import BigQueryCredentials

from gemini_batch.clients import job_service_client, vertex_host
from gemini_batch.model_names import location_mismatch, model_resource
from gemini_batch.settings import BatchSettings


def test_global_has_no_region_prefix_regions_do() -> None:
    assert vertex_host("global") == "aiplatform.googleapis.com"
    assert vertex_host("GLOBAL") == "aiplatform.googleapis.com"
    assert vertex_host("us-central1") == "us-central1-aiplatform.googleapis.com"
    assert vertex_host("Europe-West4") == "europe-west4-aiplatform.googleapis.com"


def _credentials(**extra: Any) -> BigQueryCredentials:
    return BigQueryCredentials(method="oauth-secrets", token="user-token", database="data-project", schema="s", **extra)  # type: ignore[call-arg]


def _client(credentials: BigQueryCredentials, location: str = "us-central1", **settings: Any) -> Any:
    return job_service_client(credentials, BatchSettings(**settings), location)


def test_the_client_talks_to_the_locations_host() -> None:
    assert _client(_credentials(), "global").api_endpoint == "aiplatform.googleapis.com"
    assert _client(_credentials(), "us-east5").api_endpoint == "us-east5-aiplatform.googleapis.com"


@pytest.mark.parametrize(
    ("extra", "settings", "expected"),
    [
        ({"quota_project": "billing-project"}, {"vertex_project": "vertex-project"}, "billing-project"),
        ({}, {"vertex_project": "vertex-project"}, "vertex-project"),
        ({}, {}, "data-project"),
    ],
)
def test_user_credentials_send_a_quota_project(extra: dict[str, str], settings: dict[str, str], expected: str) -> None:
    client = _client(_credentials(**extra), **settings)
    assert client._transport._credentials.quota_project_id == expected


def test_service_accounts_bill_their_own_project() -> None:
    from google.oauth2 import service_account

    from gemini_batch import clients

    key = service_account.Credentials(
        signer=None,
        service_account_email="sa@p.iam.gserviceaccount.com",
        token_uri="https://oauth2.googleapis.com/token",
    )  # type: ignore[arg-type]
    assert clients.quota_project(_credentials(quota_project="billing"), key, BatchSettings()) is None


def test_model_names_map_to_vertex_resources() -> None:
    assert model_resource("gemini-2.5-flash") == "publishers/google/models/gemini-2.5-flash"
    assert model_resource("models/gemini-2.5-pro") == "publishers/google/models/gemini-2.5-pro"
    tuned = "projects/p/locations/europe-west4/models/123"
    assert model_resource(tuned) == tuned
    assert BatchSettings(gemini_model="models/gemini-2.5-flash").model_resource == (
        "publishers/google/models/gemini-2.5-flash"
    )
    assert location_mismatch(tuned, "europe-west4") is None
    assert location_mismatch("publishers/google/models/gemini-2.5-flash", "us-central1") is None
    problem = location_mismatch(tuned, "us-central1")
    assert problem is not None and "set vertex_location to europe-west4" in problem
