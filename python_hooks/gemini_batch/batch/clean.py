"""`dbt-gemini-batch clean`: drop the per-job tables a killed or interrupted run left behind, and say which.

It also drops the materialization's staging relations (`<alias>__gemini_batch_view_<invocation>` and `..._table_...`,
macros/materializations/gemini_batch/_staging_relation.sql) older than `older_than`: a build removes its own on every
path Jinja reaches, and they expire after a day, but a killed `dbt run` leaves them until then (bqemulator keeps no
expiration at all). A running build keeps its staging relations for seconds to minutes, hence the same age rule as
unknown job tables; `--older-than 0` when nothing else runs.

A model's job tables are named `<alias>__batch_<stamp>_<id>_<bucket>` (input) and `..._out` (output), in the model's
dataset (submit.py), and a submission's pending rows `<alias>__batch_<stamp>_<id>_pending` until its last bucket is
written. A table is dropped when the ledger says its job was collected (or never created), or when no ledger row names
it and it is older than ORPHAN_AFTER (a submitter writes the ledger row seconds after the input table, so a younger one
may belong to a run in progress). Tables of jobs not collected yet are kept, and their submission's pending rows:
`collect` and the queued buckets still need them. Every such table also expires on its own (submit.py).

With `transport: gcs` a job's files are in `<gcs_prefix>/<input table name>/` (batch/gcs.py); such a folder is deleted
by the same rule as its table (its job collected or never created, or unknown to the ledger and older than
ORPHAN_AFTER).

A model with `keep_job_tables: true` keeps its jobs' tables (and folders) on purpose: clean drops none the ledger
names, only unknown ones past `older_than` and staging relations.
"""

from __future__ import annotations

import datetime as dt
import re

from gemini_batch.batch import gcs
from gemini_batch.batch.context import BQ_REQUEST_SECONDS, BQ_RETRY, BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.settings import BatchSettings

ORPHAN_AFTER = dt.timedelta(hours=1)


def job_table_prefix(node: BatchNode) -> str:
    return f"{node.alias}__batch_"


def staging_pattern(node: BatchNode) -> re.Pattern[str]:
    """The names of the model's staging relations (one invocation id's first 12 hex digits each)."""
    return re.compile(rf"{re.escape(node.alias)}__gemini_batch_(view|table)_[0-9a-f]{{12}}")


def clean(
    ctx: BatchContext,
    node: BatchNode,
    now: dt.datetime | None = None,
    settings: BatchSettings | None = None,
    older_than: dt.timedelta = ORPHAN_AFTER,
) -> list[str]:
    """Drop the model's leftover job tables and staging relations (and, given settings with a gcs_prefix, job
    folders); returns their ids. A table no ledger row names is dropped only when older than `older_than`."""
    now = now or dt.datetime.now(dt.UTC)
    # The ledger is append-only: each job's latest event is its state. Every answer cache of this model counts
    # (a job another target left uncollected still needs its tables).
    rows = ctx.sql(
        f"select input_table, output_table, collected_at from ({ctx.ledger.latest_sql()}) where dbt_node = @dbt_node",
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
            # the submission's pending rows (submit.write_pending): its queued buckets are written from them later
            keep.add(f"{str(row['input_table']).rsplit('.', 1)[-1].rsplit('_', 1)[0]}_pending")
    if settings is not None and settings.keep_job_tables:
        keep |= known  # kept on purpose (keep_job_tables: true): only tables no ledger row names are leftovers
    prefix = job_table_prefix(node)
    staging = staging_pattern(node)
    dropped = []
    for table in ctx.bq.list_tables(node.dataset, retry=BQ_RETRY, timeout=BQ_REQUEST_SECONDS):
        name = table.table_id
        is_staging = bool(staging.fullmatch(name))
        if not (name.startswith(prefix) or is_staging) or name in keep:
            continue
        if name not in known and table.created and now - table.created < older_than:
            continue  # perhaps a submission or a build in progress
        full = f"{node.dataset}.{name}"
        if is_staging and table.table_type == "VIEW":  # SQL: bqemulator's tables.delete drops tables only
            ctx.sql(f"drop view if exists `{full}`", node=node.unique_id)
        else:
            ctx.bq.delete_table(full, not_found_ok=True, retry=BQ_RETRY, timeout=BQ_REQUEST_SECONDS)
        dropped.append(full)
    if settings is not None and settings.gcs_prefix:
        dropped += _clean_folders(ctx, node, settings.gcs_prefix, keep, known, now, older_than)
    return dropped


def _clean_folders(
    ctx: BatchContext,
    node: BatchNode,
    gcs_prefix: str,
    keep: set[str],
    known: set[str],
    now: dt.datetime,
    older_than: dt.timedelta,
) -> list[str]:
    """Delete the job folders under gcs_prefix by the tables' rule; returns their gs:// URIs."""
    root = gcs.job_folder(gcs_prefix, "")  # <gcs_prefix>/
    _, under = gcs.split_uri(root)
    folders: dict[str, list[dt.datetime]] = {}
    for blob in gcs.objects(ctx, root + job_table_prefix(node)):
        folder = blob.name[len(under) :].split("/", 1)[0]
        folders.setdefault(folder, []).append(blob.time_created or now)
    dropped = []
    for folder, created in sorted(folders.items()):
        if folder in keep or (folder not in known and now - min(created) < older_than):
            continue
        uri = gcs.job_folder(gcs_prefix, folder)
        gcs.delete_under(ctx, uri + "/")
        dropped.append(uri + "/")
    return dropped
