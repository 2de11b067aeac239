"""One sentence instead of a traceback for the failures a user fixes outside our code: expired, revoked or unusable
Google credentials, a service that is down or does not answer (the local stack stopped or stuck), a relation
that has not been built yet, and a BigQuery job over the maximum_bytes_billed cap. Every sentence names the service
or relation and the next step.

cli.main is wrapped in `one_sentence`; anything `explain` does not recognise is re-raised untouched.
"""

from __future__ import annotations

import concurrent.futures
import functools
import re
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

    def __init__(self, endpoint: str, service: str = "the local stack") -> None:
        super().__init__(
            f"nothing answers at {endpoint} ({service}): the local stack is not running; start it with "
            "`dbt-gemini-batch local up`, run the `export` lines it prints, then run the command again."
        )


class ServiceUnreachable(ConnectionError):
    """A service that cannot be used (does not answer, or refuses the credentials); the message is the sentence."""


class CredentialsUnusable(ValueError):
    """The dbt target's credentials cannot even be loaded (a bad key file, no application-default credentials)."""


class MissingRelation(LookupError):
    """A relation a command reads does not exist yet; the message names it and the dbt command that builds it."""

    def __init__(self, relation: str, model: str | None = None) -> None:
        build = f"`dbt run --select {model}`" if model else "`dbt run` (or `dbt-gemini-batch run`)"
        super().__init__(
            f"{relation} does not exist in BigQuery yet: build it with {build}, then run the command again."
        )


def is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    return host in {"localhost", "::1"} or host.startswith("127.")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def explain(exc: BaseException) -> str | None:
    """The one sentence for a failure the user must fix outside our code, or None for anything else."""
    chain = _chain(exc)
    for cause in chain:
        if isinstance(cause, LocalStackDown | ServiceUnreachable | CredentialsUnusable | MissingRelation):
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
    for cause in chain:
        if _timed_out(cause):
            return (
                f"{_host(cause)} did not answer in time: check that the service is up (on the local stack: "
                "`dbt-gemini-batch local status`), the network and proxy, then run the command again; jobs already "
                "submitted keep running and `dbt-gemini-batch collect` picks them up."
            )
        if isinstance(cause, gexc.NotFound) and (relation := _missing_relation(cause)):
            table = relation.count(".") == 2  # project.dataset.table; a dataset is made by the first dbt run
            return str(MissingRelation(relation, relation.rsplit(".", 1)[-1] if table else None))
    return None


def _timed_out(exc: BaseException) -> bool:
    """A request or query that got no answer within its bound (hangs are bounded by timeouts and retry deadlines)."""
    return isinstance(
        exc,
        requests.exceptions.Timeout
        | socket.timeout
        | TimeoutError
        | concurrent.futures.TimeoutError
        | gexc.RetryError
        | gexc.DeadlineExceeded,
    )


def _missing_relation(exc: gexc.NotFound) -> str | None:
    """project.dataset.table (or project.dataset) from BigQuery's NotFound message."""
    # Google: "Not found: Table p:d.t"; the local BigQuery: "Not found: table:p.d.t"
    match = re.search(r"Not found: (?:Table|View|Dataset)[: ]\s*([\w.:-]+)", str(exc), flags=re.IGNORECASE)
    return match.group(1).replace(":", ".").rstrip(".") if match else None


def _host(exc: BaseException) -> str:
    """The host a failed request was for: requests' own request, or urllib3's MaxRetryError inside requests'
    ConnectionError; a RetryError's last error."""
    if isinstance(exc, gexc.RetryError) and exc.cause is not None and exc.cause is not exc:
        return _host(exc.cause)
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if isinstance(url, str) and urlsplit(url).netloc:
        return str(urlsplit(url).netloc)
    pool = getattr(exc.args[0], "pool", None) if exc.args else None
    host = getattr(pool, "host", None)
    if host:
        port = getattr(pool, "port", None)
        return f"{host}:{port}" if port and str(host).startswith("127.") else str(host)
    return "the service"


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
