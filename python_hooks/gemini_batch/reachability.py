"""Whether the services of the dbt target can be used, checked once before a command starts work: the credentials
load, and BigQuery, the Vertex AI emulator and the Cloud Storage emulator answer.

Without it a stopped or hung service is found by the clients' own retries, which give up after 10 minutes
(google-cloud-bigquery's DEFAULT_RETRY, dbt-bigquery's), and a bad service-account key file makes dbt-bigquery start
an interactive `gcloud auth application-default login`. Each problem is raised as one sentence naming the service
and the next step (friendly_errors.explain prints it).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import google.auth.exceptions
import requests
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

from gemini_batch.friendly_errors import AUTH_FIX, CredentialsUnusable, LocalStackDown, ServiceUnreachable, is_loopback

# How long a service may take to answer the check. A real BigQuery answers a dataset read in well under a second.
PROBE_SECONDS = 10.0
CONNECT_SECONDS = 3.0
BIGQUERY_HOST = "https://bigquery.googleapis.com"
ENV_STORAGE_EMULATOR = "STORAGE_EMULATOR_HOST"  # read by google-cloud-storage itself; set by `local up`


def google_credentials(credentials: Any) -> Any:
    """The target's Google credentials as dbt-bigquery makes them, or CredentialsUnusable saying what to fix.

    dbt-bigquery answers a malformed key file (google.auth's MalformedError is a DefaultCredentialsError) by running
    `gcloud auth application-default login`, which waits for a browser; loading them here first avoids that."""
    from dbt.adapters.bigquery.credentials import create_google_credentials

    method = str(getattr(credentials, "method", ""))
    try:
        return create_google_credentials(credentials)
    except (ValueError, OSError, google.auth.exceptions.GoogleAuthError) as exc:
        raise CredentialsUnusable(_credentials_sentence(credentials, method, exc)) from exc


def _credentials_sentence(credentials: Any, method: str, exc: BaseException) -> str:
    reason = _reason(exc)
    if method.endswith("service-account") or method.endswith("SERVICE_ACCOUNT"):
        keyfile = getattr(credentials, "keyfile", None)
        return (
            f"the service-account key file of the dbt target ({keyfile}) cannot be used ({reason}): point `keyfile` "
            "in profiles.yml at a JSON key of the service account (IAM > Service accounts > Keys), then run the "
            "command again."
        )
    if method.endswith("service-account-json") or method.endswith("SERVICE_ACCOUNT_JSON"):
        return (
            f"the `keyfile_json` of the dbt target cannot be used ({reason}): paste the service account's JSON key "
            "into profiles.yml (or use `method: service-account` with a key file), then run the command again."
        )
    return (
        f"the dbt target's Google credentials cannot be loaded ({reason}): run `gcloud auth application-default "
        "login` (method: oauth) or set `keyfile` in profiles.yml, then run the command again."
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, ValueError) and exc.__class__.__name__ == "JSONDecodeError":
        return "not JSON"
    text = str(exc).strip().rstrip(".") or exc.__class__.__name__
    return text[:200]


def check_services(credentials: Any) -> None:
    """Raise LocalStackDown, ServiceUnreachable or CredentialsUnusable (each one sentence) unless the target's
    credentials load and BigQuery (and, on the local stack, the Vertex AI and Cloud Storage emulators) answer within
    PROBE_SECONDS."""
    from gemini_batch.settings import ENV_VERTEX_ENDPOINT

    bigquery_endpoint = getattr(credentials, "api_endpoint", None) or ""
    if bigquery_endpoint.startswith("http://") and is_loopback(bigquery_endpoint):
        check_local_service("BigQuery", bigquery_endpoint)
    else:
        google_credentials(credentials)
        check_bigquery(credentials, bigquery_endpoint or BIGQUERY_HOST)
    for name, endpoint in (
        ("Vertex AI", os.environ.get(ENV_VERTEX_ENDPOINT)),
        ("Cloud Storage", os.environ.get(ENV_STORAGE_EMULATOR)),
    ):
        if endpoint and is_loopback(_as_url(endpoint)):
            check_local_service(name, _as_url(endpoint))


def _as_url(endpoint: str) -> str:
    return endpoint if "://" in endpoint else f"http://{endpoint}"


def check_local_service(name: str, endpoint: str) -> None:
    """A local emulator answers any HTTP request (even with 404) at once; none refusing or silent is a stack down."""
    try:
        requests.get(endpoint.rstrip("/") + "/", timeout=(CONNECT_SECONDS, PROBE_SECONDS))
    except requests.exceptions.ConnectionError as exc:
        if isinstance(exc, requests.exceptions.ReadTimeout) or _timed_out(exc):
            raise ServiceUnreachable(_stuck(name, endpoint)) from exc
        raise LocalStackDown(endpoint, name) from exc
    except requests.exceptions.Timeout as exc:
        raise ServiceUnreachable(_stuck(name, endpoint)) from exc


def _timed_out(exc: BaseException) -> bool:
    return "timed out" in str(exc).lower()


def _stuck(name: str, endpoint: str) -> str:
    return (
        f"{name} at {endpoint} accepts connections but did not answer within {PROBE_SECONDS:.0f} s: the local "
        "stack is stuck; restart it with `dbt-gemini-batch local down` and `dbt-gemini-batch local up`, then run the "
        "command again."
    )


def check_bigquery(credentials: Any, endpoint: str) -> None:
    """One bounded dataset read on Google's BigQuery: reachable (any answer, even not found or forbidden) and the
    credentials refresh."""
    from gemini_batch.clients import bigquery_client

    client = bigquery_client(credentials)
    dataset = f"{credentials.database}.{credentials.schema}"
    retry = gretry.Retry(predicate=gretry.if_transient_error, initial=1.0, maximum=4.0, timeout=PROBE_SECONDS * 2)
    try:
        client.get_dataset(dataset, retry=retry, timeout=PROBE_SECONDS)
    except (gexc.NotFound, gexc.Forbidden, gexc.BadRequest):
        return  # it answered; dbt or the command says what is wrong with the dataset
    except (google.auth.exceptions.RefreshError, gexc.Unauthenticated) as exc:
        raise ServiceUnreachable(AUTH_FIX) from exc
    except (requests.exceptions.RequestException, gexc.RetryError, gexc.DeadlineExceeded, TimeoutError) as exc:
        host = urlsplit(endpoint).netloc or endpoint
        raise ServiceUnreachable(
            f"BigQuery ({host}) did not answer within {PROBE_SECONDS * 2:.0f} s (connection refused, unknown host or "
            "no answer): check the network and proxy, then run the command again; jobs already submitted keep "
            "running and `dbt-gemini-batch collect` picks them up."
        ) from exc
