"""Step 2: how many request hashes still need an answer, and how many were given up after max_attempts."""

from __future__ import annotations

from google.cloud import bigquery

from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.published_counts import RequestCounts, take_published
from gemini_batch.dbt_project import BatchNode
from gemini_batch.settings import BatchSettings

# The pending rule, in parts that every count shares (plan, submit, the estimate, status, the run summary) and that
# macros/materializations/gemini_batch/_pending_condition.sql writes the same for dbt (on_pending; a unit test checks
# they agree), so that what is counted and what is sent can never disagree.
# Never answered: no response row (new, or in a job not collected yet), or a row with a NULL status, which
# collect.record_failed_job leaves for each request of a FAILED job that stays below max_failed_jobs.
NEVER_ANSWERED_CONDITION = "(responses.request_hash is null or responses.status is null)"
# Failed row by row (or given an 'unusable answer' status), with attempts left: sent again.
RETRY_CONDITION = "(responses.status != '' and coalesce(responses.attempts, 0) < @max_attempts)"
# Failed max_attempts times (or in max_failed_jobs failed jobs): a dead letter, never sent again.
EXHAUSTED_CONDITION = "(responses.status != '' and coalesce(responses.attempts, 0) >= @max_attempts)"
PENDING_CONDITION = f"({NEVER_ANSWERED_CONDITION} or {RETRY_CONDITION})"


# m__requests' gemini_batch_state (macros/materializations/gemini_batch/_create_requests_table.sql): what the cache
# held for each row's hash when the model was built. Rows in state 0 (answered and judged) are never pending: an
# answer is never taken back once judged, so `>= 1` keeps every row that may be pending now (answers that came since
# only make the set smaller; PENDING_CONDITION, read from the cache, decides). A constant filter on the table's first
# clustering column, so BigQuery reads the requests of those rows only, not of the whole model.
STATE_COLUMN = "gemini_batch_state"
MAY_BE_PENDING = f"requests.{STATE_COLUMN} >= 1"
SETTLED = f"requests.{STATE_COLUMN} = 0"  # answered and judged when built: stays answered
# The states of the rows to send, as _state_codes() numbers them: never answered (2) and failed with attempts left
# (3). Used alone, without the cache, only while the ledger shows that nothing answered a hash since the states were
# read (count_requests: a count the materialization handed over with its ledger mark).
PENDING_STATES = f"requests.{STATE_COLUMN} in (2, 3)"


def pending_from(node: BatchNode, by_state: bool = False, states_only: bool = False) -> str:
    """FROM ... WHERE of the rows to send (needs @max_attempts, but with states_only): the staging of job inputs and
    the checks read it. by_state: m__requests has gemini_batch_state (has_row_states), whose filter prunes the
    answered rows. states_only: the rows' states still hold (RequestCounts.ledger_mark): the rows in a pending state,
    read without the cache (a constant filter on the clustering column: only their blocks are read)."""
    if states_only:
        return f"""
        from `{node.requests_table}` as requests
        where requests.request_hash is not null and {PENDING_STATES}"""
    state = f" and {MAY_BE_PENDING}" if by_state else ""
    return f"""
        from `{node.requests_table}` as requests
        left join `{node.responses_table}` as responses
            on requests.request_hash = responses.request_hash
        -- a NULL hash means a NULL request, which the materialization's check stops; never send one
        where requests.request_hash is not null{state} and {PENDING_CONDITION}"""


def pending_params(max_attempts: int, states_only: bool = False) -> dict[str, int]:
    """The query parameters pending_from's SQL takes: @max_attempts, but none with states_only."""
    return {} if states_only else {"max_attempts": max_attempts}


def has_row_states(ctx: BatchContext, node: BatchNode) -> bool:
    """Whether the model's requests table has gemini_batch_state (a metadata read): m__requests built by this
    release's materialization does; one of an older release, or a cascade's m__escalated view, does not."""
    return STATE_COLUMN in {f.name for f in ctx.bq.get_table(node.requests_table).schema}


# The counts made in this process, by (invocation, requests table, answer cache): the end-of-run summary reuses the
# plan's when the run has since sent and merged nothing for the model, so an unchanged run reads the hashes once.
_counted: dict[tuple[str, str, str], RequestCounts] = {}


def count_requests(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> RequestCounts:
    """Rows, request hashes, pending hashes and hashes given up (and answered, new, retries due: the spend guards'
    plan), in one statement (it reads only the hash, status and attempts columns). m__responses holds one row per
    hash, so the join keeps m__requests' rows. The count the materialization handed over in this invocation is used
    instead of a statement: with nothing pending, or with pending rows while the ledger still shows the mark it was
    taken under (then the counts carry that mark, and plan_chunks selects the rows by state: pending_from)."""
    published = take_published(
        node.unique_id, ctx.invocation_id, node.requests_table, node.responses_table, settings.max_attempts
    )
    # pending rows counted from their staged states: they hold while the ledger shows no event for the cache since
    # the states were read (the caller holds the submit lease, with no job of the cache in flight)
    if (
        published is not None
        and published.ledger_mark is not None
        and ctx.ledger.events_mark(node.responses_table, None, node.unique_id) != published.ledger_mark
    ):
        published = None
    if published is not None:
        _counted[(ctx.invocation_id, node.requests_table, node.responses_table)] = published
        return published
    by_state = not settings.incremental_requests and has_row_states(ctx, node)
    sql = by_state_count_sql(node) if by_state else count_sql(f"`{node.requests_table}`", f"`{node.responses_table}`")
    counts = request_counts(ctx.sql(sql, node=node.unique_id, max_attempts=settings.max_attempts)[0])
    _counted[(ctx.invocation_id, node.requests_table, node.responses_table)] = counts
    return counts


def request_counts(row: bigquery.Row) -> RequestCounts:
    """RequestCounts from a row of count_sql or by_state_count_sql."""
    return RequestCounts(
        rows=int(row["n"]),
        hashes=int(row["hashes"]),
        pending=int(row["pending"]),
        exhausted=int(row["exhausted"]),
        answered=int(row["answered"]),
        new=int(row["new"]),
        retries_due=int(row["retries_due"]),
    )


# What count_requests counts of the hashes it reads against the cache (alias `requests` and `responses`).
_LIVE_COUNTS = f"""
            count(distinct if({PENDING_CONDITION}, requests.request_hash, null)) as pending,
            count(distinct if({EXHAUSTED_CONDITION}, requests.request_hash, null)) as exhausted,
            count(distinct if(responses.status = '', requests.request_hash, null)) as answered,
            count(distinct if({NEVER_ANSWERED_CONDITION}, requests.request_hash, null)) as new,
            count(distinct if({RETRY_CONDITION}, requests.request_hash, null)) as retries_due"""


def count_sql(requests: str, responses: str) -> str:
    """The count of every row of `requests` against the cache `responses` (FROM items: m__requests and m__responses,
    or the plan command's compiled model and an empty cache): count_requests' statement, and the plan's."""
    return f"""
        select
            count(*) as n,
            count(distinct requests.request_hash) as hashes,{_LIVE_COUNTS}
        from {requests} as requests
        left join {responses} as responses
            on requests.request_hash = responses.request_hash
        """


def by_state_count_sql(node: BatchNode) -> str:
    """count_requests' statement when m__requests has the row states of its build (has_row_states) and was built
    whole (not incremental_requests, whose kept rows keep an earlier build's gemini_batch_first): the rows answered
    and judged then (state 0, which stay answered) are counted from the small state columns, and only the others
    (`>= 1`, a constant filter on the clustering column) have their hashes read against the cache. The same figures
    as count_sql: a hash's rows all have its state, so the two sets of hashes are disjoint."""
    return f"""
        with

        settled as (
            select
                count(*) as n,
                countif(requests.gemini_batch_first) as hashes,
                countif(requests.gemini_batch_first and {SETTLED}) as answered
            from `{node.requests_table}` as requests
        ),

        live as (
            select{_LIVE_COUNTS}
            from `{node.requests_table}` as requests
            left join `{node.responses_table}` as responses
                on requests.request_hash = responses.request_hash
            where {MAY_BE_PENDING}
        )

        select
            settled.n,
            settled.hashes,
            live.pending,
            live.exhausted,
            settled.answered + live.answered as answered,
            live.new,
            live.retries_due
        from settled cross join live
        """


def pending_counts(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> tuple[int, int]:
    """(pending request hashes, hashes given up after max_attempts failures)."""
    counts = count_requests(ctx, node, settings)
    return counts.pending, counts.exhausted


def counted_in_this_run(ctx: BatchContext, node: BatchNode) -> RequestCounts | None:
    """The last count_requests of the model in this invocation, or None. Still true only while nothing was sent or
    merged for the model since: the caller checks that."""
    return _counted.get((ctx.invocation_id, node.requests_table, node.responses_table))
