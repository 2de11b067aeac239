"""Step 6 (cascades): once every job of a model's first tier is merged, the rows whose answer matches `escalate_when`
are asked again of `escalate_to`, in a following round of the same invocation (README "Cascades").

The decision reads the model's view (its typed columns and output_state, as the predicate is written against them):
rows the first model is done with (answered, or given up) that match, and were not escalated before, are recorded in
m__escalations. The second tier is then an ordinary flight (flight.py) of an EscalationNode: its requests are the
m__escalated view (those rows, request_hash = the request's hash under escalate_to), its answers land in the same
m__responses, so the cache, the guards, the ledger and the judge work as for any model; the ledger tells the tiers
apart by gemini_model and by dbt_node (the second tier's is the model's unique_id + ESCALATED_SUFFIX, its name in
messages and the run summary the model's name + ESCALATED_SUFFIX).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from google.api_core import exceptions as gexc

from gemini_batch.batch import lease
from gemini_batch.batch.common import BatchError
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.settings import BatchSettings

ESCALATED_SUFFIX = "__escalated"  # of the second tier's name and unique_id, like its m__escalated view


@dataclass(frozen=True)
class EscalationNode(BatchNode):
    """The second tier of a cascade: the escalated rows of `base` as requests of escalate_to."""

    @property
    def requests_table(self) -> str:
        return self.table("__escalated")

    @property
    def escalations_table(self) -> str:
        return self.table("__escalations")


def second_tier(node: BatchNode, settings: BatchSettings) -> tuple[EscalationNode, BatchSettings]:
    """The node and settings the second tier runs with: same tables and limits, escalate_to as the Gemini model."""
    tier = EscalationNode(
        unique_id=node.unique_id + ESCALATED_SUFFIX,
        name=node.name + ESCALATED_SUFFIX,
        database=node.database,
        schema=node.schema,
        alias=node.alias,
        config=node.config,
    )
    return tier, dataclasses.replace(settings, gemini_model=settings.escalate_to or settings.gemini_model)


def decide(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> int:
    """Record the rows to escalate (matching escalate_when, not escalated yet); returns how many request hashes."""
    tier, _ = second_tier(node, settings)
    if not ctx.table_exists(tier.escalations_table):
        raise BatchError(
            f"{node.name}: escalate_to is set but {tier.escalations_table} does not exist; run `dbt run --select "
            f"{node.name}` so the materialization lays out the cascade's tables"
        )
    # The predicate is the user's SQL over the view's columns, as documented (the view is the only table whose
    # columns it can name unqualified, save the three of m__escalations).
    sql = f"""
        insert into `{tier.escalations_table}` (request_hash, escalation_hash, escalated_at)
        select distinct candidates.request_hash, candidates.escalation_hash, current_timestamp()
        from `{node.view}` as candidates
        left join `{tier.escalations_table}` as decided
            on candidates.request_hash = decided.request_hash and candidates.escalation_hash = decided.escalation_hash
        where decided.request_hash is null
            and (candidates.status = '' or candidates.given_up)
            and ({settings.escalate_when})
    """
    with lease.held(ctx, node, lease.SUBMIT):
        try:
            job = ctx.bq.query(sql, job_config=ctx.query_defaults.config([], node=node.unique_id))
            job.result()
        except gexc.BadRequest as exc:
            message = (getattr(exc, "message", None) or str(exc)).splitlines()[0]
            raise BatchError(
                f"{node.name}: escalate_when {settings.escalate_when!r} cannot be evaluated on the model's view "
                f"({message}); write it over the view's columns (typed columns, output_state), e.g. "
                "\"output_state != 'answered' or confidence < 0.7\""
            ) from None
    added = int(job.num_dml_affected_rows or 0)
    if added:
        ctx.progress.say(f"{node.name}: {added} request(s) match escalate_when: asking {settings.escalate_to} again")
    return added
