"""Step 5: merge a finished job's output table into m__responses, judge its answers (batch/judge.py), record counts
and tokens in the ledger, and drop the per-job tables unless keep_job_tables. A `transport: gcs` job's JSONL answers
are first loaded into the output table a BigQuery-transport job would have written (batch/gcs.py), so both merge
alike; its objects go with its tables.

A success is never overwritten; a failure keeps its status and counts an attempt (once per job, however often the
output is merged), so the row is sent again until max_attempts. One collector per answer cache at a time (the
collect lease, batch/lease.py). Output rows are matched to the requests sent by request_hash alone (output_key_sql),
never by the request Vertex echoes, which it rewrites. Rows sent but missing from the output are counted in the
ledger, reported (on_missing_answers decides whether that fails the run) and stay pending; output rows that name no
request sent (unmatched) are counted, named in a warning and never merged. Every output row's tokens are recorded.
"""

from __future__ import annotations

import datetime as dt

from google.cloud import aiplatform_v1

from gemini_batch.batch import gcs, judge, lease
from gemini_batch.batch.common import SUCCESS_STATES, NodeOutcome, table_id
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import LedgerEntry
from gemini_batch.prices import price_for
from gemini_batch.settings import BatchSettings

# Hashes per bounded MERGE of write_to_cache: ~70 bytes each in the SQL text, well within BigQuery's 1 MB limit on a
# query's text (cloud.google.com/bigquery/quotas#query_jobs).
RETRIED_PER_STATEMENT = 5000
FAILED = "JOB_STATE_FAILED"  # the only end that counts against the requests (record_failed_job)
# (count, usageMetadata field) summed per job for the ledger (the billed tokens of every output row, matched or not)
USAGE_FIELDS = (
    ("prompt_tokens", "promptTokenCount"),
    ("output_tokens", "candidatesTokenCount"),
    ("thoughts_tokens", "thoughtsTokenCount"),
    ("cached_tokens", "cachedContentTokenCount"),
    ("total_tokens", "totalTokenCount"),
)
UNMATCHED_SAMPLE = 5  # keys of unmatched output rows named in the warning
# The token counts priced at a model's long-context rates when the request's prompt is above its threshold.
LONG_CONTEXT_FIELDS = ("prompt_tokens", "output_tokens", "thoughts_tokens", "cached_tokens")


def long_context_threshold(settings: BatchSettings) -> int | None:
    """Prompt tokens above which the model's requests pay the long-context rates (None: one tier), from the price
    registry (data/gemini_prices.csv; the dbt var gemini_batch_prices is not read here)."""
    price = price_for(settings.gemini_model, dt.datetime.now(dt.UTC).date())
    return price.long_context_threshold if price else None


def long_context_sums(threshold: int | None) -> str:
    """Select items summing each token count over the output rows whose promptTokenCount is above `threshold` (read from
    m__collected's usage_columns).

    Every row, matched or not: Google bills each row it answered. Priced per request, so the ledger keeps them apart
    from the job's totals (token_cost prices them at the *_long rates)."""
    if threshold is None:
        return ""
    return "".join(
        f",\nsum(if(prompt_tokens > {int(threshold):d}, {name}, null)) as long_context_{name}"
        for name in LONG_CONTEXT_FIELDS
    )


def usage_columns(response: str) -> str:
    """Select items: each usageMetadata count of `response` (SQL, JSON) as an INT64 column named as in USAGE_FIELDS.
    m__collected keeps them beside the response, so the job's token sums read these narrow columns and not the
    response again (on-demand BigQuery bills each column a query references, in full)."""
    return ",\n".join(
        f"safe_cast(json_value({response}, '$.usageMetadata.{field}') as int64) as {name}"
        for name, field in USAGE_FIELDS
    )


def collect(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    entry: LedgerEntry,
    job: aiplatform_v1.BatchPredictionJob,
    outcome: NodeOutcome,
) -> None:
    """Collect one finished job holding the answer cache's collect lease: one collector at a time, and a job another
    run collected meanwhile is not merged or counted again. The lease is proved (batch/lease.py, fencing) before the
    merge, before the ledger event and before the job's tables are dropped: a collector paused past its lease while
    another run took over raises LeaseLost there and writes nothing more."""
    with lease.held(ctx, node, lease.COLLECT) as held:
        current = ctx.ledger.current(entry)
        if current is not None and current.is_collected:
            short = (entry.job_name or "").rsplit("/", 1)[-1]
            ctx.progress.say(f"{node.name}: job {short} was collected by another run; nothing to merge")
            for key in ("state", "collected_at", "succeeded_count", "failed_count"):
                setattr(entry, key, getattr(current, key))
            return
        _collect(ctx, node, settings, entry, job, outcome, held)


def _collect(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    entry: LedgerEntry,
    job: aiplatform_v1.BatchPredictionJob,
    outcome: NodeOutcome,
    held: lease.Lease,
) -> None:
    lease.prove(ctx, held, "merging a job's answers")
    state = job.state.name
    error = job.error.message if job.error and job.error.message else None
    counts: dict[str, int] = {}
    if gcs.is_gcs_job(job) and entry.output_table:
        # transport gcs: the JSONL answers become the output table a BigQuery-transport job would have written
        gcs.load_output(ctx, node, job, entry.output_table)
    output = next((t for t in output_candidates(entry, job) if ctx.table_exists(t)), "")
    output_exists = bool(output)
    output = output or entry.output_table or ""
    # What was sent, to check the output against; a job from before the check (or a table dropped by hand) is merged
    # unchecked, and says so.
    sent = entry.input_table if ctx.table_exists(entry.input_table) else None
    # Rows already written are kept whatever the job's end: a cancelled or failed job may have answered some.
    if output_exists:
        counts = merge_output(
            ctx,
            node,
            output,
            entry.job_name or "",
            sent,
            judge_answers=settings.retry_unusable_answers,
            threshold=long_context_threshold(settings),
        )
    elif sent:
        counts = {"missing": int(ctx.sql(f"select count(*) as n from `{sent}`", node=node.unique_id)[0]["n"])}
    finished = job.end_time if job.end_time else dt.datetime.now(dt.UTC)
    lease.prove(ctx, held, "recording a collected job in the ledger")
    current = ctx.ledger.current(entry)
    if current is not None and current.is_collected:
        # another run collected it (and may have dropped its tables, so our counts would be zeros): its event stands
        ctx.progress.say(f"{node.name}: job {(entry.job_name or '').rsplit('/', 1)[-1]} was collected by another run")
        return
    entry.lease_token = held.token
    # Written after the merge; a kill in between re-runs the merge, which changes nothing the second time.
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
        missing_count=counts.get("missing") if sent else None,
        mismatched_count=counts.get("mismatched", 0),
        **{f"long_context_{name}": counts.get(f"long_context_{name}", 0) for name in LONG_CONTEXT_FIELDS},
        finished_at=finished,
        collected_at=dt.datetime.now(dt.UTC),
    )
    outcome.succeeded += counts.get("succeeded", 0)
    outcome.failed += counts.get("failed", 0)
    short = (entry.job_name or "").rsplit("/", 1)[-1]
    ctx.progress.say(
        f"{node.name}: job {short} {state.removeprefix('JOB_STATE_')}: "
        f"{counts.get('succeeded', 0)} answered, {counts.get('failed', 0)} failed rows"
        + (f" of {entry.request_count} sent" if sent else " (not checked against the rows sent: input table gone)")
        + (f"; error: {error}" if error else "")
    )
    if state == FAILED and sent:
        given_up = record_failed_job(ctx, node, settings, sent, entry.job_name or "", short, error)
        outcome.exhausted += given_up
        if given_up:
            ctx.progress.say(
                f"{node.name}: {given_up} request(s) were in {settings.max_failed_jobs} failed batch jobs and are not "
                f"sent again (see status in {node.alias}; raise max_failed_jobs or max_attempts to retry them)"
            )
    if state in SUCCESS_STATES:
        _report_shortfall(ctx, node, settings, short, counts, outcome)
    # A cancelled job was stopped on purpose (`cancel`, --cancel-on-interrupt, the console): what it wrote is merged
    # above and its other rows stay pending; not an error.
    elif state != "JOB_STATE_CANCELLED":
        outcome.errors.append(
            f"{node.name}: batch job {short} ended {state.removeprefix('JOB_STATE_')}"
            + (f": {error}" if error else "")
            + "; its unanswered requests stay pending and are sent again on the next run"
        )
    if not settings.keep_job_tables:
        lease.prove(ctx, held, "dropping a collected job's tables")
        ctx.bq.delete_table(entry.input_table, not_found_ok=True)
        if output_exists:
            ctx.bq.delete_table(output, not_found_ok=True)
        if gcs.is_gcs_job(job):
            gcs.delete_job_objects(ctx, job)


def record_failed_job(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    sent: str,
    job_name: str,
    short: str,
    error: str | None,
) -> int:
    """Count a FAILED job against every request it was sent and did not answer or fail row by row; returns how many
    requests are now given up.

    Without this a request set that breaks every job (a field Vertex refuses for the whole job, say) would be sent
    again on every run, forever. Below the limit the request stays pending (a new row has a NULL status, as a
    request never answered; a row that failed before keeps its status), so the model's view shows it pending and the
    next run sends it. A request in max_failed_jobs failed jobs gets the status `given up after ...` and
    attempts raised to max_attempts, so the pending rule (plan.PENDING_CONDITION) stops sending it, and it is
    counted and shown like a row that failed max_attempts times. Only FAILED counts: a CANCELLED job was stopped on
    purpose, an EXPIRED one waited in Vertex's queue too long, neither says anything about its requests.
    Exactly once per job, as merge_output: a row this job already touched (job_name) is left alone.
    """
    _add_failed_jobs_column(ctx, node)
    failed = f"batch job {short} failed" + (f": {error}" if error else "")
    given_up = f"given up after {settings.max_failed_jobs} failed batch jobs; last: {failed}"
    gives_up = "coalesce(target.failed_jobs, 0) + 1 >= @max_failed_jobs"
    write_to_cache(
        ctx,
        node,
        source_sql=f"""
            select request_hash, any_value(request) as request
            from `{sent}`
            where request_hash is not null
            group by request_hash""",
        insert={
            "request_hash": "source.request_hash",
            "request": "source.request",
            "response": "null",
            "status": "if(1 >= @max_failed_jobs, @given_up, null)",
            "processed_time": "null",
            "job_name": "@job_name",
            "attempts": "if(1 >= @max_failed_jobs, @max_attempts, 0)",
            "failed_jobs": "1",
            "updated_at": "current_timestamp()",
        },
        update={
            "status": f"if({gives_up}, @given_up, target.status)",
            "attempts": f"if({gives_up}, greatest(coalesce(target.attempts, 0), @max_attempts), "
            "coalesce(target.attempts, 0))",
            "failed_jobs": "coalesce(target.failed_jobs, 0) + 1",
            "job_name": "@job_name",
            "updated_at": "current_timestamp()",
        },
        job_name=job_name,
        given_up=given_up,
        max_failed_jobs=settings.max_failed_jobs,
        max_attempts=settings.max_attempts,
    )
    rows = ctx.sql(
        f"""
        select count(*) as n
        from `{node.responses_table}`
        where job_name = @job_name and status = @given_up
        """,
        node=node.unique_id,
        job_name=job_name,
        given_up=given_up,
    )
    return int(rows[0]["n"])


def _add_failed_jobs_column(ctx: BatchContext, node: BatchNode) -> None:
    """m__responses made before max_failed_jobs lacks `failed_jobs` (added under the collect lease). The model's view
    lists its columns, so the new one does not show there."""
    ctx.sql(f"alter table `{node.responses_table}` add column if not exists failed_jobs int64", node=node.unique_id)


def _report_shortfall(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    short: str,
    counts: dict[str, int],
    outcome: NodeOutcome,
) -> None:
    """A job that succeeded but did not answer or fail every row sent (unmatched output rows are warned about by
    merge_output whatever the job's end)."""
    missing = counts.get("missing", 0)
    if not missing:
        return
    outcome.missing += missing
    message = (
        f"{node.name}: batch job {short} succeeded but {missing} of the rows sent have no answer or failure in its "
        "output; those requests stay pending and are sent again on the next run"
    )
    if settings.on_missing_answers == "error":
        outcome.errors.append(message + " (on_missing_answers: error; set it to warn to only report this)")
    else:
        ctx.progress.say("WARNING " + message)


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


def output_key_sql(schema: dict[str, str], request: str | None) -> str:
    """SQL for the request_hash an output row answers, from what Vertex is documented to pass through, never from
    the echoed request itself (Vertex rewrites it: keys sorted, absent part fields added as null; see
    ../shared/reference/vertex-output-shapes.md and the notebook it cites):
    - the `request_hash` column/key: a BigQuery input's other columns "are ignored for content generation but included
      in the output table" (cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-from-bigquery,
      "Prepare inputs"); a JSONL line's other keys are echoed, and the Cloud Storage transport writes them `gb-<hash>`
      (batch/gcs.py), so the prefix is dropped;
    - else the request's labels gcs.HASH_LABELS, echoed with the request.
    `request` is the output's request as SQL (STRING or JSON, json_value reads both); None: the key column only.
    """
    column = "request_hash" if "request_hash" in schema else "cast(null as string)"
    if schema.get("request_hash", "STRING") != "STRING":  # a sibling key the importer read as a number
        column = f"cast({column} as string)"
    prefix = gcs.KEY_PREFIX
    sibling = f"nullif(if(starts_with({column}, '{prefix}'), substr({column}, {len(prefix) + 1}), {column}), '')"
    if request is None:
        return sibling
    labels = ", ".join(f"json_value({request}, '$.labels.{label}')" for label, _, _ in gcs.HASH_LABELS)
    return f"coalesce({sibling}, nullif(concat({labels}), ''))"


def merge_output(
    ctx: BatchContext,
    node: BatchNode,
    output: str,
    job_name: str,
    sent: str | None = None,
    judge_answers: bool = False,
    threshold: int | None = None,
) -> dict[str, int]:
    """Write one job's output into m__responses; returns the output's row counts and token sums, how many rows sent
    are missing from it and how many of its rows are unmatched (`sent`: the job's input table). With `judge_answers`,
    each answer is judged (batch/judge.py) in the statement that writes it.

    An output row answers the request whose hash it carries (output_key_sql); it is written when that hash was sent
    in this job. A row with no readable hash, or one this job did not send, is unmatched: counted, its tokens still
    summed (Google bills every row it answered), never written. The request cached is the one sent, not Vertex's
    re-serialised echo; without `sent` (a job from before the check, or an input table dropped by hand) the echo is
    cached and every keyed row written.

    The output is read once into m__collected (the job's rows, without Vertex's echo of the request when the key
    column names every row: collected_rows), and written from there: new hashes by an INSERT
    (reads the cache's request_hash column, never the whole table), the few hashes the cache already has with a
    failure by a MERGE bounded to them (write_to_cache). Exactly once: a row this job already wrote (target.job_name
    = this job) is never updated again, so writing the same output twice, e.g. after a kill between the write and the
    ledger's "collected" event, counts no attempt twice.
    """
    schema = {f.name: f.field_type.upper() for f in ctx.bq.get_table(output).schema}
    # The job's input holds the request sent and the output its request_hash column: the echo is not read at all
    # (it is most of the output's bytes after the response). Only a row whose key column is empty needs the hash
    # labels inside the echo (output_key_sql); the output is then read again with the echo (collected_rows).
    keyed_by_column = bool(sent) and "request_hash" in schema
    collected_rows(ctx, node, output, schema, sent, with_echo=not keyed_by_column)
    counts = _collected_counts(ctx, node, sent, threshold)
    if keyed_by_column and counts["unkeyed"]:
        collected_rows(ctx, node, output, schema, sent, with_echo=True)
        counts = _collected_counts(ctx, node, sent, threshold)
    del counts["unkeyed"]
    written = counts.pop("written")
    judged = judge.judged_source(ctx, node) if judge_answers else None
    # The answers judged once here are not parsed again: judged_at = updated_at (as _mark_unusable_answers writes).
    status = judge.judged_status_sql("source") if judged else "source.status"
    judged_at = "if(source.status = '', current_timestamp(), null)" if judged else "cast(null as timestamp)"
    columns = "request_hash, request, response, status, processed_time" + (", output_state" if judged else "")
    write_to_cache(
        ctx,
        node,
        source_sql=f"""
            select {columns}
            from `{judged or node.collected_table}`
            where request_hash is not null and matches
            qualify row_number() over (
                partition by request_hash
                order by if(status = '', 0, 1), processed_time desc
            ) = 1""",
        insert={
            "request_hash": "source.request_hash",
            "request": "source.request",
            "response": "source.response",
            "status": status,
            "processed_time": "source.processed_time",
            "job_name": "@job_name",
            "attempts": "1",
            "updated_at": "current_timestamp()",
            **({"judged_at": judged_at} if judged else {}),
        },
        update={
            "response": "source.response",
            "status": status,
            "processed_time": "source.processed_time",
            "job_name": "@job_name",
            "attempts": "coalesce(target.attempts, 0) + 1",
            "updated_at": "current_timestamp()",
            **({"judged_at": judged_at} if judged else {}),
        },
        job_name=job_name,
        source_rows=written,
        **({"prefix": judge.UNUSABLE_STATUS_PREFIX} if judged else {}),
    )
    if counts.get("mismatched"):
        samples = ctx.sql(
            f"""
            select coalesce(nullif(raw_key, ''), request_hash, '(no key)') as key
            from `{node.collected_table}`
            where not matches
            order by key
            limit {UNMATCHED_SAMPLE}
            """,
            node=node.unique_id,
        )
        counts_keys = [str(r["key"]) for r in samples]
        ctx.progress.say(
            f"WARNING {node.name}: {counts['mismatched']} output row(s) of batch job {job_name.rsplit('/', 1)[-1]} "
            f"name no request sent in it (not merged; their tokens are in the ledger); keys: {', '.join(counts_keys)}"
        )
    return counts


def collected_rows(
    ctx: BatchContext,
    node: BatchNode,
    output: str,
    schema: dict[str, str],
    sent: str | None,
    with_echo: bool,
) -> None:
    """Read the job's output (`schema`: its column types) once into m__collected (the materialization's
    m__collected_judged view reads its columns, _collected_columns), with the usage counts of each row
    (usage_columns). A row without a status counts as answered only when it has a response: no response, or `{}`
    (what Vertex writes for a failed row), is a failure, sent again. The request kept is the one sent; Vertex's echo
    is read only `with_echo`: without `sent` (it is then the request cached) or when some row's key must come from
    the hash labels inside it."""
    # Vertex documents `response` as JSON; read a STRING one too rather than trust an unverified detail. 'round': the
    # default 'exact' mode turns a number that does not round-trip through a double (a long avgLogprobs, an integer
    # above 2^53) into an error, which SAFE. makes NULL: the answer would be lost (zetasql json_value.cc).
    # A failed JSONL line has no `response` at all (Google's Cloud Storage page), which loads as NULL.
    if "response" not in schema:
        response = "cast(null as json)"
    elif schema["response"] == "JSON":
        response = "response"
    else:
        response = "safe.parse_json(response, wide_number_mode => 'round')"
    # The cache keeps the request as text; the output echoes the input's type, which we wrote as STRING.
    request = "to_json_string(request)" if schema.get("request") == "JSON" else "request"
    processed = "processed_time" if "processed_time" in schema else "current_timestamp()"
    key = output_key_sql(schema, "request" if with_echo else None)
    echo = request if with_echo else "cast(null as string)"
    if sent:
        sent_rows = f"select request_hash, any_value(request) as request from `{sent}` group by request_hash"
        matched = "sent.request_hash is not null"
        cached_request = "coalesce(sent.request, output.request)"
        sent_join = f"left join ({sent_rows}) as sent on output.request_hash = sent.request_hash"
    else:
        matched, cached_request, sent_join = "output.request_hash is not null", "output.request", ""
    ctx.sql(
        f"""
        create or replace table `{node.collected_table}` {_expiring_in_a_day()} as
        select
            output.request_hash,
            {cached_request} as request,
            output.response,
            output.status,
            output.processed_time,
            {matched} as matches,
            output.raw_key,
            {", ".join(name for name, _ in USAGE_FIELDS)}
        from (
            select
                {key} as request_hash,
                {"cast(request_hash as string)" if "request_hash" in schema else "cast(null as string)"} as raw_key,
                {echo} as request,
                {response} as response,
                case
                    when coalesce(status, '') != '' then status
                    when {response} is null or to_json_string({response}) = '{{}}' then 'empty response'
                    else ''
                end as status,
                cast({processed} as timestamp) as processed_time,
                {usage_columns(response)}
            from `{output}`
        ) as output
        {sent_join}
        """,
        node=node.unique_id,
    )


def _collected_counts(ctx: BatchContext, node: BatchNode, sent: str | None, threshold: int | None) -> dict[str, int]:
    """The job's counts and token sums in one reading of m__collected's narrow columns (never the response). Missing:
    hashes sent without a matching output row, neither answered nor failed (they stay pending). Tokens: every output
    row's, matched or not. Written: the hashes the cache write takes (one row per matched hash). Unkeyed: rows
    whose key column is empty (collected_rows reads the echo for them)."""
    tokens = ",\n".join(f"sum({name}) as {name}" for name, _ in USAGE_FIELDS)
    tokens += long_context_sums(threshold)  # of the requests above the model's long-context threshold
    sent_count = f"(select count(distinct request_hash) from `{sent}`)" if sent else "cast(null as int64)"
    rows = ctx.sql(
        f"""
        select
            countif(matches and status = '') as succeeded,
            countif(matches and status != '') as failed,
            countif(not matches) as mismatched,
            countif(request_hash is null) as unkeyed,
            count(distinct if(matches, request_hash, null)) as written,
            {tokens},
            {sent_count} as sent
        from `{node.collected_table}`
        """,
        node=node.unique_id,
    )
    counts = {k: int(v or 0) for k, v in dict(rows[0]).items()}
    sent_hashes = counts.pop("sent")
    if sent:
        counts["missing"] = sent_hashes - counts["written"]
    return counts


def write_to_cache(
    ctx: BatchContext,
    node: BatchNode,
    source_sql: str,
    insert: dict[str, str],
    update: dict[str, str],
    job_name: str,
    source_rows: int | None = None,
    **params: object,
) -> None:
    """Write a job's rows (`source_sql`: one row per request_hash, alias `source` in the expressions; `source_rows`
    of them when the caller counted them already) to m__responses without a statement that bills the whole cache.

    On-demand BigQuery bills a MERGE or UPDATE as the bytes it reads plus the whole target table (or the partitions or
    blocks it touches), an INSERT only as the bytes its query reads
    (cloud.google.com/bigquery/pricing#dml_pricing_for_non-partitioned_tables). So: (1) an INSERT writes every hash
    the cache does not have (it reads the cache's request_hash column); (2) only when it left some of the job's rows
    out, the hashes the cache has without a success, written by another job, are read (the cache's request_hash,
    status and job_name columns: never in a job of new requests only); (3) only those get a MERGE, at most
    RETRIED_PER_STATEMENT per statement, filtered on the target's clustering column request_hash by a list of
    constants, which BigQuery prunes to the blocks holding them (cloud.google.com/bigquery/docs/clustered-tables,
    "block pruning"; a join or subquery condition prunes nothing). A success is never overwritten, and a row this job
    already wrote (job_name) never again: exactly once per job, however often it is written.
    """
    responses = node.responses_table
    if source_rows is None:
        source_rows = int(ctx.sql(f"select count(*) as n from ({source_sql})", node=node.unique_id, **params)[0]["n"])
    names = ", ".join(insert)
    inserted = ctx.dml(
        f"""
        insert into `{responses}` ({names})
        select {", ".join(insert.values())}
        from ({source_sql}) as source
        where source.request_hash not in (select request_hash from `{responses}` where request_hash is not null)
        """,
        node=node.unique_id,
        job_name=job_name,
        **params,
    )
    if inserted is not None and inserted >= source_rows:
        return  # every hash was new: nothing to update
    retried = sorted(
        str(row["request_hash"])
        for row in ctx.sql(
            f"""
            select distinct source.request_hash
            from (select request_hash from ({source_sql})) as source
            inner join (select request_hash, status, job_name from `{responses}`) as cached
                on source.request_hash = cached.request_hash
            where (cached.status is null or cached.status != '') and coalesce(cached.job_name, '') != @job_name
            """,
            node=node.unique_id,
            job_name=job_name,
            **params,
        )
    )
    assignments = ",\n            ".join(f"{column} = {value}" for column, value in update.items())
    for start in range(0, len(retried), RETRIED_PER_STATEMENT):
        hashes = ", ".join(_string_literal(h) for h in retried[start : start + RETRIED_PER_STATEMENT])
        ctx.sql(
            f"""
            merge `{responses}` as target
            using (
                select * from ({source_sql}) where request_hash in ({hashes})
            ) as source
            on target.request_hash = source.request_hash and target.request_hash in ({hashes})
            -- never overwrite a success; never write this job's row twice (attempts counted once per job)
            when matched and (target.status is null or target.status != '')
                and coalesce(target.job_name, '') != @job_name then update set
            {assignments}
            when not matched then insert ({names})
                values ({", ".join(insert.values())})
            """,
            node=node.unique_id,
            job_name=job_name,
            **params,
        )


def _string_literal(value: str) -> str:
    """A BigQuery string literal of any text (a request hash is hex, but the output's hashes are data)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def _expiring_in_a_day() -> str:
    return "options (expiration_timestamp = timestamp_add(current_timestamp(), interval 1 day))"
