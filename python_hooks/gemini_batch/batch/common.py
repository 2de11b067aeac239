"""What every step of the batch shares: job states, the error and outcome types, label values and API retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
import urllib3.exceptions
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

from gemini_batch.labels import label_value as label_value

TERMINAL_STATES = {
    "JOB_STATE_SUCCEEDED",
    "JOB_STATE_PARTIALLY_SUCCEEDED",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_EXPIRED",
}
SUCCESS_STATES = {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"}
# API errors worth retrying: quota, transient server trouble and the network (the REST transport of aiplatform raises
# requests' own errors, which are not the builtin ConnectionError: a connection reset during a 96-hour wait must not
# end it).
TRANSIENT = (
    gexc.TooManyRequests,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.GatewayTimeout,
    gexc.DeadlineExceeded,
    ConnectionError,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)
# A service that cannot be reached at all (refused, unknown host, connect timeout) is retried this long, not the whole
# budget of a call: the commands then end within a minute naming what is unreachable (friendly_errors.explain).
UNREACHABLE_SECONDS = 45.0


class BatchError(RuntimeError):
    """A model's batch could not complete; the message names the model and what to do."""


class Interrupted(Exception):
    """Ctrl-C while waiting: the jobs were left running (or cancelled when asked); the message says what to do."""


@dataclass
class NodeOutcome:
    node: str
    submitted_requests: int = 0
    jobs: list[str] = field(default_factory=list)
    succeeded: int = 0
    failed: int = 0
    exhausted: int = 0  # requests that failed max_attempts times and are no longer sent
    missing: int = 0  # rows sent that a succeeded job neither answered nor failed, or answered for another request
    still_running: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    collected: list[str] = field(default_factory=list)  # input tables of the jobs this invocation merged (any run's)

    @property
    def ok(self) -> bool:
        return not self.errors


def table_id(uri_or_id: str) -> str:
    return uri_or_id.removeprefix("bq://")


def never_connected(exc: BaseException) -> bool:
    """The request never reached the service: connection refused, unknown host or a connect timeout."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None  # urllib3's MaxRetryError carries the cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def transient_retry(
    timeout: float,
    on_error: Callable[[Exception], None] | None = None,
    unreachable_seconds: float = UNREACHABLE_SECONDS,
) -> gretry.Retry:
    """Exponential backoff (2 s doubling to 60 s, jittered) on TRANSIENT errors for at most `timeout` seconds in all,
    and for at most `unreachable_seconds` of a service that cannot be reached at all.

    The same policy dbt-bigquery's clients use (google.api_core.retry); the last error is raised when time runs out.
    """
    unreachable_since: float | None = None

    def predicate(exc: Exception) -> bool:
        nonlocal unreachable_since
        if never_connected(exc):
            unreachable_since = unreachable_since or time.monotonic()
            return time.monotonic() - unreachable_since < unreachable_seconds
        unreachable_since = None
        return isinstance(exc, TRANSIENT)

    return gretry.Retry(
        predicate=predicate,
        initial=2.0,
        maximum=60.0,
        multiplier=2.0,
        timeout=timeout,
        on_error=on_error,
    )
