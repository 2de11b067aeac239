"""Step 4: poll the jobs with backoff until every one has ended or max_wait_hours has passed, reporting progress."""

from __future__ import annotations

import time
from collections.abc import Callable

from google.cloud import aiplatform_v1

from gemini_batch.batch.common import TERMINAL_STATES, TRANSIENT, BatchError, never_connected, transient_retry
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import LedgerEntry
from gemini_batch.settings import BatchSettings

GET_RETRY_SECONDS = 600.0  # a job's state unreadable for this long stops the wait with an error


def get_job(ctx: BatchContext, settings: BatchSettings, entry: LedgerEntry) -> aiplatform_v1.BatchPredictionJob:
    client = ctx.jobs(settings)
    try:
        return transient_retry(GET_RETRY_SECONDS)(client.get_batch_prediction_job)(name=entry.job_name, timeout=60)
    except TRANSIENT as exc:
        why = "Vertex AI cannot be reached" if never_connected(exc) else "Vertex keeps answering with errors"
        raise BatchError(f"cannot read the state of {entry.job_name}: {why} ({exc.__class__.__name__})") from exc


def wait(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    entries: list[LedgerEntry],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str | None, aiplatform_v1.BatchPredictionJob]:
    started = time.monotonic()
    deadline = started + settings.max_wait_hours * 3600
    delay = settings.poll_initial_seconds
    states: dict[str | None, aiplatform_v1.BatchPredictionJob] = {}
    while True:
        for entry in entries:
            if entry.job_name in states and states[entry.job_name].state.name in TERMINAL_STATES:
                continue
            job = get_job(ctx, settings, entry)
            states[entry.job_name] = job
            stats = job.completion_stats
            detail = f"{entry.request_count} requests"
            if stats and (stats.successful_count or stats.failed_count):
                detail += f", {stats.successful_count} ok / {stats.failed_count} failed"
            ctx.progress.job_state(node.name, entry.job_name or "", job.state.name, started, detail)
        if all(j.state.name in TERMINAL_STATES for j in states.values()):
            return states
        if time.monotonic() > deadline:
            ctx.progress.say(
                f"{node.name}: stopped waiting after {settings.max_wait_hours} h; the jobs go on. "
                "Collect them later with `dbt-gemini-batch collect`."
            )
            return states
        sleep(delay)
        delay = min(delay * 1.5, settings.poll_max_seconds)
