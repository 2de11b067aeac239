"""`dbt-gemini-batch status`: per model, rows pending (never sent), in flight (in jobs not collected yet), failed
(grouped by error message, with example keys) and given up; `--failed` lists every failed row's key and error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.plan import EXHAUSTED_CONDITION, NEVER_ANSWERED_CONDITION, RETRY_CONDITION
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import LedgerEntry
from gemini_batch.settings import BatchSettings
from gemini_batch.spend.estimate import key_columns

EXAMPLE_KEYS = 3
# Jobs not collected yet whose rows are not in flight any more: Vertex stopped them, and the next run sends their rows
# again (a cancelled job is not "in flight" until the next collect records it).
STOPPED_STATES = {"JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED", "JOB_STATE_FAILED", "JOB_STATE_EXPIRED"}


def _key_sql(keys: list[str]) -> str:
    """A row's key as text: `col=value, ...`."""
    parts = [f"concat('{k}=', coalesce(cast(requests.`{k}` as string), 'NULL'))" for k in keys]
    separator = ", ', ', "
    return f"concat({separator.join(parts)})" if len(parts) > 1 else parts[0]


def model_status(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    live_state: Callable[[LedgerEntry], str] | None = None,
    jobs: list[LedgerEntry] | None = None,
) -> dict[str, Any]:
    """`live_state`: a job's state at Vertex (the ledger's is only as new as the last command that looked); `jobs`:
    the model's jobs not collected yet, when known (default: read from the ledger)."""
    if not ctx.table_exists(node.requests_table) or not ctx.table_exists(node.responses_table):
        return {"model": node.name, "missing": True, "requests_table": node.requests_table}
    if jobs is None:
        jobs = ctx.ledger.uncollected(node.unique_id, node.responses_table)
    jobs = [e for e in jobs if e.job_name]
    state = live_state or (lambda e: e.state)
    in_flight_jobs = [e for e in jobs if state(e) not in STOPPED_STATES]
    in_flight = sum(e.request_count or 0 for e in in_flight_jobs)
    counts = ctx.sql(
        f"""
        select
            count(distinct requests.request_hash) as requests,
            count(distinct if({NEVER_ANSWERED_CONDITION}, requests.request_hash, null)) as unsent,
            count(distinct if(responses.status = '', requests.request_hash, null)) as answered,
            count(distinct if({RETRY_CONDITION}, requests.request_hash, null)) as failed,
            count(distinct if({EXHAUSTED_CONDITION}, requests.request_hash, null)) as given_up
        from `{node.requests_table}` as requests
        left join `{node.responses_table}` as responses on requests.request_hash = responses.request_hash
        """,
        node=node.unique_id,
        max_attempts=settings.max_attempts,
    )[0]
    return {
        "model": node.name,
        # requests never answered (new, or left by a FAILED job) and not in a job still running: what the next run
        # sends first
        "pending": max(int(counts["unsent"]) - in_flight, 0),
        "in_flight": in_flight,
        "in_flight_jobs": len(in_flight_jobs),
        "stopped_jobs": len(jobs) - len(in_flight_jobs),
        "answered": int(counts["answered"]),
        "failed": int(counts["failed"]),
        "given_up": int(counts["given_up"]),
        "requests": int(counts["requests"]),
        "failures": failed_rows(ctx, node, settings, grouped=True),
    }


def failed_rows(ctx: BatchContext, node: BatchNode, settings: BatchSettings, grouped: bool) -> list[dict[str, Any]]:
    """Failed rows (attempts left or given up): grouped by error with example keys, or one per row."""
    keys = key_columns(ctx, node, settings)
    key = _key_sql(keys) if keys else "requests.request_hash"
    failed = f"""
        select {key} as row_key, responses.status as error, coalesce(responses.attempts, 0) as attempts,
            coalesce(responses.attempts, 0) >= @max_attempts as given_up
        from `{node.requests_table}` as requests
        join `{node.responses_table}` as responses on requests.request_hash = responses.request_hash
        where responses.status != ''
    """
    if grouped:
        sql = f"""
            select error, count(*) as row_count, array_agg(row_key order by row_key limit {EXAMPLE_KEYS:d}) as examples
            from ({failed}) group by error order by row_count desc, error
        """
    else:
        sql = f"select row_key, error, attempts, given_up from ({failed}) order by row_key"
    rows = ctx.sql(sql, node=node.unique_id, max_attempts=settings.max_attempts)
    return [dict(r) for r in rows]


def format_status(status: dict[str, Any]) -> list[str]:
    name = status["model"]
    if status.get("missing"):
        return [
            f"{name}: not built yet ({status['requests_table']} does not exist): build it with "
            f"`dbt run --select {name}`"
        ]
    lines = [
        f"{name}: {status['pending']} pending (not sent yet), {status['in_flight']} in flight in "
        f"{status['in_flight_jobs']} job(s), {status['answered']} answered, {status['failed']} failed (retried next "
        f"run), {status['given_up']} given up after max_attempts (requests)"
    ]
    if status.get("stopped_jobs"):
        lines.append(
            f"  {status['stopped_jobs']} job(s) cancelled, failed or expired and not collected yet: their requests "
            "count as pending and are sent again by the next run"
        )
    if status["given_up"]:
        share = status["given_up"] / max(status.get("requests") or 0, 1)
        lines.append(
            f"  {status['given_up']} dead letter(s): {share:.0%} of the model's requests have no usable answer and "
            f"are never sent again; `dbt-gemini-batch status --failed --select {name}` lists them"
        )
    for group in status["failures"]:
        examples = "; ".join(group["examples"])
        lines.append(f"  {group['row_count']} row(s) failed with: {group['error']}  e.g. {examples}")
    return lines
