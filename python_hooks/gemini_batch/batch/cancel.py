"""`dbt-gemini-batch cancel`: ask Vertex to cancel a model's jobs that are still in flight."""

from __future__ import annotations

from gemini_batch.batch.common import TERMINAL_STATES
from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.wait import get_job
from gemini_batch.dbt_project import BatchNode
from gemini_batch.settings import BatchSettings


def cancel(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> list[str]:
    cancelled = []
    for entry in ctx.ledger.uncollected(node.unique_id, node.responses_table):
        if not entry.job_name:
            continue
        if get_job(ctx, settings, entry).state.name in TERMINAL_STATES:
            continue
        ctx.jobs(settings).cancel_batch_prediction_job(name=entry.job_name, timeout=60)
        ctx.ledger.update(entry, state="JOB_STATE_CANCELLING")
        cancelled.append(entry.job_name)
        ctx.progress.say(f"{node.name}: cancel requested for {entry.job_name.rsplit('/', 1)[-1]}")
    return cancelled
