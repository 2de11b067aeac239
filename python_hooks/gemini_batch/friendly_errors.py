"""One sentence instead of a traceback for the failures a user fixes outside our code: expired or revoked Google
credentials, a local stack that is not running, and a BigQuery job over the maximum_bytes_billed cap.

cli.main is wrapped in `one_sentence`; anything `explain` does not recognise is re-raised untouched.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import google.auth.exceptions
import requests
from google.api_core import exceptions as gexc

from gemini_batch.batch.common import never_connected
from gemini_batch.progress import Progress

EXIT_FAILED = 1

AUTH_FIX = (
    "Google rejected the credentials of the dbt target (expired or revoked token): run "
    "`gcloud auth application-default login` (method: oauth), renew the token or key in profiles.yml, then run the "
    "command again; jobs already submitted keep running and `dbt-gemini-batch collect` picks them up."
)


class LocalStackDown(ConnectionError):
    """The loopback endpoint of the local stack refuses connections."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            f"nothing answers at {endpoint}: the local stack is not running. Start it with "
            "`dbt-gemini-batch local up` and run the `export` lines it prints, then run the command again."
        )


def is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    return host in {"localhost", "::1"} or host.startswith("127.")


def check_local_endpoint(endpoint: str | None, timeout: float = 2.0) -> None:
    """Raise LocalStackDown when `endpoint` is a loopback URL nobody listens on.

    Checked up front because google-cloud-bigquery retries a refused connection for up to 10 minutes before giving up.
    """
    if not endpoint or not is_loopback(endpoint):
        return
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return
    except OSError as exc:
        raise LocalStackDown(endpoint) from exc


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def explain(exc: BaseException) -> str | None:
    """The one sentence for a failure the user must fix outside our code, or None for anything else."""
    for cause in _chain(exc):
        if isinstance(cause, LocalStackDown):
            return str(cause)
        if isinstance(cause, google.auth.exceptions.RefreshError | gexc.Unauthenticated):
            return AUTH_FIX
        if isinstance(cause, requests.exceptions.ConnectionError | ConnectionRefusedError) and any(
            host in str(cause) for host in ("127.0.0.1", "localhost")
        ):
            return (
                "the local stack stopped answering (connection refused on loopback): start it with "
                "`dbt-gemini-batch local up`, run the `export` lines it prints, then run the command again."
            )
        if isinstance(cause, gexc.GoogleAPICallError) and "bytes billed" in str(cause).lower():
            return (
                f"a BigQuery job of the hook went over maximum_bytes_billed ({cause.message}): raise the profile's "
                "maximum_bytes_billed, or set GEMINI_BATCH_MAXIMUM_BYTES_BILLED (bytes, or `none`) for the hook's jobs "
                "alone, then run the command again; jobs not collected yet are collected by that run (answers "
                "already merged stay)."
            )
        if never_connected(cause):
            return (
                f"cannot reach {_host(cause)} (connection refused, unknown host or connect timeout): check the "
                "network, proxy and the vertex_endpoint / vertex_location settings, then run the command again; jobs "
                "already submitted keep running and `dbt-gemini-batch collect` picks them up."
            )
    return None


def _host(exc: BaseException) -> str:
    """The host a failed connection was for, from urllib3's MaxRetryError inside requests' ConnectionError."""
    pool = getattr(exc.args[0], "pool", None) if exc.args else None
    host = getattr(pool, "host", None)
    return str(host) if host else "the service"


def one_sentence(command: Callable[..., int]) -> Callable[..., int]:
    """A command that prints one ERROR sentence and exits 1 for failures `explain` knows, instead of a traceback."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> int:
        try:
            return command(*args, **kwargs)
        except Exception as exc:
            sentence = explain(exc)
            if sentence is None:
                raise
            Progress().say(f"ERROR {sentence}")
            return EXIT_FAILED

    return wrapper
