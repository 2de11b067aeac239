"""Submit, wait for and collect the Vertex AI batch jobs of one gemini_batch model.

The steps for a model `m` (see DESIGN.md, "The Python post-hook"), one module each, run by runner.BatchRunner:
  1. finish what an earlier run left: jobs in the ledger that were never collected are resumed, not resubmitted;
  2. plan: count pending request hashes (never answered successfully, attempts below max_attempts; identical
     requests once);
  3. submit: write job input tables of at most max_requests_per_job rows (request_hash + request only) and create one
     job each, finding a job again when create failed in transit;
  4. wait: poll with backoff, reporting state and elapsed time;
  5. collect: merge each output table into m__responses (a success is never overwritten; a failure keeps its status
     and counts an attempt), update the ledger (state, counts, tokens) and drop the per-job tables unless
     keep_job_tables.
cancel asks Vertex to stop a model's jobs in flight. common holds what the steps share, context the clients.
"""

from typing import TYPE_CHECKING, Any

from gemini_batch.batch.common import (
    SUCCESS_STATES,
    TERMINAL_STATES,
    TRANSIENT,
    BatchError,
    NodeOutcome,
    label_value,
)

if TYPE_CHECKING:
    from gemini_batch.batch.runner import BatchRunner


def __getattr__(name: str) -> Any:
    """BatchRunner on first use: it imports the Vertex AI client (~0.6 s), which the commands that only read
    BigQuery, and an unchanged re-run, never need (gemini_batch.runner imports it in the background meanwhile)."""
    if name == "BatchRunner":
        from gemini_batch.batch.runner import BatchRunner

        return BatchRunner
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SUCCESS_STATES",
    "TERMINAL_STATES",
    "TRANSIENT",
    "BatchError",
    "BatchRunner",
    "NodeOutcome",
    "label_value",
]
