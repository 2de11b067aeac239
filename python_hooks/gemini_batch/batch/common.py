"""What every step of the batch shares: job states, the error and outcome types, label values and API retries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
# API errors worth retrying: quota and transient server trouble.
TRANSIENT = (
    gexc.TooManyRequests,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.GatewayTimeout,
    gexc.DeadlineExceeded,
    ConnectionError,
)


class BatchError(RuntimeError):
    """A model's batch could not complete; the message names the model and what to do."""


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

    @property
    def ok(self) -> bool:
        return not self.errors


def table_id(uri_or_id: str) -> str:
    return uri_or_id.removeprefix("bq://")


def transient_retry(timeout: float, on_error: Callable[[Exception], None] | None = None) -> gretry.Retry:
    """Exponential backoff (2 s doubling to 60 s, jittered) on TRANSIENT errors for at most `timeout` seconds in all.

    The same policy dbt-bigquery's clients use (google.api_core.retry); the last error is raised when time runs out.
    """
    return gretry.Retry(
        predicate=gretry.if_exception_type(*TRANSIENT),
        initial=2.0,
        maximum=60.0,
        multiplier=2.0,
        timeout=timeout,
        on_error=on_error,
    )
