"""`dbt-gemini-batch clean`: drop the per-job tables a killed or interrupted run left behind, and say which.

A model's job tables are named `<alias>__batch_<stamp>_<id>_<bucket>` (input) and `..._out` (output), in the model's
dataset (submit.py); an older hook also left `..._pending` staging tables. A table is dropped when the ledger says its
job was collected (or never created), or when no ledger row names it and it is older than ORPHAN_AFTER (a submitter
writes the ledger row seconds after the input table, so a younger one may belong to a run in progress). Tables of jobs
not collected yet are kept: `collect` still needs them. Every such table also expires on its own (submit.py).
"""

from __future__ import annotations

import datetime as dt

from gemini_batch.batch.context import BQ_REQUEST_SECONDS, BQ_RETRY, BatchContext
from gemini_batch.dbt_project import BatchNode

ORPHAN_AFTER = dt.timedelta(hours=1)


def job_table_prefix(node: BatchNode) -> str:
    return f"{node.alias}__batch_"


def clean(ctx: BatchContext, node: BatchNode, now: dt.datetime | None = None) -> list[str]:
    """Drop the model's leftover job tables; returns their ids."""
    now = now or dt.datetime.now(dt.UTC)
    rows = ctx.sql(
        f"select input_table, output_table, collected_at from `{ctx.ledger.table}` where dbt_node = @dbt_node",
        node=node.name,  # the job label of this query; `dbt_node` is the parameter
        dbt_node=node.unique_id,
    )
    keep: set[str] = set()
    known: set[str] = set()
    for row in rows:
        tables = {t.rsplit(".", 1)[-1] for t in (row["input_table"], row["output_table"]) if t}
        tables.add(f"{str(row['input_table']).rsplit('.', 1)[-1]}_out")
        known |= tables
        if row["collected_at"] is None:
            keep |= tables
    prefix = job_table_prefix(node)
    dropped = []
    for table in ctx.bq.list_tables(node.dataset, retry=BQ_RETRY, timeout=BQ_REQUEST_SECONDS):
        name = table.table_id
        if not name.startswith(prefix) or name in keep:
            continue
        if name not in known and table.created and now - table.created < ORPHAN_AFTER:
            continue  # perhaps a submission in progress: its ledger row comes next
        full = f"{node.dataset}.{name}"
        ctx.bq.delete_table(full, not_found_ok=True, retry=BQ_RETRY, timeout=BQ_REQUEST_SECONDS)
        dropped.append(full)
    return dropped
