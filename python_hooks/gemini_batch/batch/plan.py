"""Step 2: how many request hashes still need an answer, and how many were given up after max_attempts."""

from __future__ import annotations

from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.settings import BatchSettings

# A hash is pending when it has no response row, or a failed one with attempts left. Shared with submit.py's staging
# query so that the count and the rows sent can never disagree.
# A row with a NULL status is pending too: collect.record_failed_job counts a failed job there before any answer.
PENDING_CONDITION = (
    "(responses.request_hash is null or responses.status is null"
    " or (responses.status != '' and coalesce(responses.attempts, 0) < @max_attempts))"
)


def pending_from(node: BatchNode) -> str:
    """FROM ... WHERE of the rows to send (needs @max_attempts): the staging of job inputs and the checks read it."""
    return f"""
        from `{node.requests_table}` as requests
        left join `{node.responses_table}` as responses
            on requests.request_hash = responses.request_hash
        -- a NULL hash means a NULL request, which the materialization's check stops; never send one
        where requests.request_hash is not null and {PENDING_CONDITION}"""


def pending_counts(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> tuple[int, int]:
    """(pending request hashes, hashes given up after max_attempts failures)."""
    rows = ctx.sql(
        f"""
        select
            count(distinct if({PENDING_CONDITION}, requests.request_hash, null)) as pending,
            count(distinct if(responses.status != '' and coalesce(responses.attempts, 0) >= @max_attempts,
                requests.request_hash, null)) as exhausted
        from `{node.requests_table}` as requests
        left join `{node.responses_table}` as responses
            on requests.request_hash = responses.request_hash
        """,
        node=node.unique_id,
        max_attempts=settings.max_attempts,
    )
    return int(rows[0]["pending"]), int(rows[0]["exhausted"])
