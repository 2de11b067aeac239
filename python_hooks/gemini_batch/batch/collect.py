"""Step 5: merge a finished job's output table into m__responses, record counts and tokens in the ledger, and drop
the per-job tables unless keep_job_tables.

A success is never overwritten; a failure keeps its status and counts an attempt, so the row is sent again until
max_attempts.
"""

from __future__ import annotations

import datetime as dt

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1

from gemini_batch.batch.common import SUCCESS_STATES, NodeOutcome, table_id
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import LedgerEntry
from gemini_batch.settings import BatchSettings


def collect(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    entry: LedgerEntry,
    job: aiplatform_v1.BatchPredictionJob,
    outcome: NodeOutcome,
) -> None:
    state = job.state.name
    error = job.error.message if job.error and job.error.message else None
    counts: dict[str, int] = {}
    output = next((t for t in output_candidates(entry, job) if _exists(ctx, t)), "")
    output_exists = bool(output)
    output = output or entry.output_table or ""
    # Rows already written are kept whatever the job's end: a cancelled or failed job may have answered some.
    if output_exists:
        counts = merge_output(ctx, node, output, entry.job_name or "")
    finished = job.end_time if job.end_time else dt.datetime.now(dt.UTC)
    ctx.ledger.update(
        entry,
        state=state,
        error=error,
        output_table=output,
        succeeded_count=counts.get("succeeded", 0),
        failed_count=counts.get("failed", 0),
        prompt_tokens=counts.get("prompt_tokens", 0),
        output_tokens=counts.get("output_tokens", 0),
        thoughts_tokens=counts.get("thoughts_tokens", 0),
        cached_tokens=counts.get("cached_tokens", 0),
        total_tokens=counts.get("total_tokens", 0),
        finished_at=finished,
        collected_at=dt.datetime.now(dt.UTC),
    )
    outcome.succeeded += counts.get("succeeded", 0)
    outcome.failed += counts.get("failed", 0)
    short = (entry.job_name or "").rsplit("/", 1)[-1]
    ctx.progress.say(
        f"{node.name}: job {short} {state.removeprefix('JOB_STATE_')}: "
        f"{counts.get('succeeded', 0)} answered, {counts.get('failed', 0)} failed rows"
        + (f"; error: {error}" if error else "")
    )
    # A cancelled job was stopped on purpose (`cancel`, --cancel-on-interrupt, the console): what it wrote is merged
    # above and its other rows stay pending; not an error. (w2-submit: one-line change, the collect helper owns this.)
    if state not in SUCCESS_STATES and state != "JOB_STATE_CANCELLED":
        outcome.errors.append(
            f"{node.name}: batch job {short} ended {state.removeprefix('JOB_STATE_')}"
            + (f": {error}" if error else "")
            + "; its unanswered requests stay pending and are sent again on the next run"
        )
    if not settings.keep_job_tables:
        ctx.bq.delete_table(entry.input_table, not_found_ok=True)
        if output_exists:
            ctx.bq.delete_table(output, not_found_ok=True)


def _exists(ctx: BatchContext, table: str) -> bool:
    try:
        ctx.bq.get_table(table)
    except gexc.NotFound:
        return False
    return True


def output_candidates(entry: LedgerEntry, job: aiplatform_v1.BatchPredictionJob) -> list[str]:
    """Where the job's answers may be, best first: the table the hook named in bigqueryDestination, then what Vertex
    reports in outputInfo.bigqueryOutputTable.

    The API reference documents the reported value as "the name of the BigQuery table created, in
    predictions_<timestamp> format" (aiplatform_v1 types/batch_prediction_job.py OutputInfo), Google's SDK tests mock
    a full `bq://project.dataset.table`; both are accepted, a bare name is qualified with the output dataset.
    """
    candidates = [entry.output_table] if entry.output_table else []
    info = job.output_info
    reported = table_id(info.bigquery_output_table) if info and info.bigquery_output_table else ""
    if reported and reported.count(".") < 2:
        dataset = table_id(info.bigquery_output_dataset) if info.bigquery_output_dataset else ""
        if not dataset and entry.output_table:
            dataset = entry.output_table.rsplit(".", 1)[0]
        reported = f"{dataset}.{reported.rsplit('.', 1)[-1]}" if dataset else ""
    if reported and reported not in candidates:
        candidates.append(reported)
    return candidates


def merge_output(ctx: BatchContext, node: BatchNode, output: str, job_name: str) -> dict[str, int]:
    """Merge one job's output into m__responses; returns the output's row counts and token sums."""
    schema = {f.name: f.field_type.upper() for f in ctx.bq.get_table(output).schema}
    # Vertex documents `response` as JSON; read a STRING one too rather than trust an unverified detail. 'round': the
    # default 'exact' mode turns a number that does not round-trip through a double (a long avgLogprobs, an integer
    # above 2^53) into an error, which SAFE. makes NULL: the answer would be lost (zetasql json_value.cc).
    response = (
        "response" if schema.get("response") == "JSON" else "safe.parse_json(response, wide_number_mode => 'round')"
    )
    # The cache keeps the request as text; the output echoes the input's type, which we wrote as STRING.
    request = "to_json_string(request)" if schema.get("request") == "JSON" else "request"
    processed = "processed_time" if "processed_time" in schema else "current_timestamp()"
    # One reading of the output for the merge and the counts. A row without a status counts as answered only when it
    # has a response: no response, or `{}` (what Vertex writes for a failed row), is a failure, sent again later.
    rows_sql = f"""
        select
            request_hash,
            {request} as request,
            {response} as response,
            case
                when coalesce(status, '') != '' then status
                when {response} is null or to_json_string({response}) = '{{}}' then 'empty response'
                else ''
            end as status,
            {processed} as processed_time
        from `{output}`
    """
    text = "to_json_string(response)"
    ctx.sql(
        f"""
        merge `{node.responses_table}` as target
        using (
            select *
            from ({rows_sql})
            where request_hash is not null
            qualify row_number() over (
                partition by request_hash
                order by if(status = '', 0, 1), processed_time desc
            ) = 1
        ) as source
        on target.request_hash = source.request_hash
        when matched and (target.status is null or target.status != '') then update set
            response = source.response,
            status = source.status,
            processed_time = source.processed_time,
            job_name = @job_name,
            attempts = coalesce(target.attempts, 0) + 1,
            updated_at = current_timestamp()
        when not matched then insert
            (request_hash, request, response, status, processed_time, job_name, attempts, updated_at)
            values (source.request_hash, source.request, source.response, source.status,
                source.processed_time, @job_name, 1, current_timestamp())
        """,
        node=node.unique_id,
        job_name=job_name,
    )
    rows = ctx.sql(
        f"""
        select
            countif(status = '') as succeeded,
            countif(status != '') as failed,
            sum(safe_cast(json_value({text}, '$.usageMetadata.promptTokenCount') as int64)) as prompt_tokens,
            sum(safe_cast(json_value({text}, '$.usageMetadata.candidatesTokenCount') as int64)) as output_tokens,
            sum(safe_cast(json_value({text}, '$.usageMetadata.thoughtsTokenCount') as int64)) as thoughts_tokens,
            sum(safe_cast(json_value({text}, '$.usageMetadata.cachedContentTokenCount') as int64))
                as cached_tokens,
            sum(safe_cast(json_value({text}, '$.usageMetadata.totalTokenCount') as int64)) as total_tokens
        from ({rows_sql})
        """,
        node=node.unique_id,
    )
    return {k: int(v or 0) for k, v in dict(rows[0]).items()}
