"""Let bqemulator's table metadata follow `ALTER TABLE ... ADD COLUMN` / `DROP COLUMN`.

bqemulator runs the statement on DuckDB but does not update its catalog, so `tables.get` (and dbt-bigquery's
get_columns_in_relation, which reads it) keeps the old schema: a column added with `ADD COLUMN IF NOT EXISTS` never
shows, and a dropped one stays listed. BigQuery updates the table's schema with the statement. The package adds
columns this way to answer caches made by earlier versions (m__responses.judged_at, failed_jobs), so after a
successful ALTER TABLE that adds, drops or renames columns the catalog's schema is read again from DuckDB; the
fields that stay keep their mode and description (persist_docs).
"""

from __future__ import annotations

from typing import Any

COLUMN_ACTIONS = ("ColumnDef", "Drop", "RenameColumn", "AlterColumn")


def altered_table(bq_sql: str, project_id: str) -> tuple[str, str, str] | None:
    """(project, dataset, table) of an ALTER TABLE that changes columns; None for any other statement."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(bq_sql, read="bigquery")
    except Exception:  # not ours to judge: bqemulator already ran (or refused) it
        return None
    if not isinstance(tree, exp.Alter) or (tree.args.get("kind") or "").upper() != "TABLE":
        return None
    actions = tree.args.get("actions") or []
    if not any(type(a).__name__ in COLUMN_ACTIONS for a in actions):
        return None
    table = tree.this
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return project_id, parts[0], parts[1]
    return None


def sync_altered_columns(bq_sql: str, project_id: str, ctx: Any) -> None:
    target = altered_table(bq_sql, project_id)
    if target is None:
        return
    from bqemulator.catalog import ddl_sync
    from bqemulator.catalog.models import TableSchema

    meta = ctx.catalog.get_table(*target)
    if meta is None:
        return
    fresh = ddl_sync._introspect_schema(*target, ctx)
    kept = {f.name.lower(): f for f in meta.schema_.fields}
    fields = tuple(kept.get(f.name.lower(), f) for f in fresh.fields)
    ctx.catalog.update_table(meta.model_copy(update={"schema_": TableSchema(fields=fields)}))


def install() -> None:
    """Run the sync after every statement, next to bqemulator's own CREATE/DROP syncs: on the single-SQL path and on
    each statement of a multi-statement script (the package's on-run-start sends its CREATE and ALTERs as one
    script; the scripting interpreter imports the sync functions itself, so both modules are patched)."""
    from bqemulator.jobs import executor
    from bqemulator.scripting import interpreter

    modules: tuple[Any, ...] = (executor, interpreter)
    for module in modules:
        module.sync_dropped_object = _then_columns(module.sync_dropped_object)


def _then_columns(original: Any) -> Any:
    def sync_dropped_object_then_columns(bq_sql: str, project_id: str, ctx: Any) -> None:
        original(bq_sql, project_id, ctx)
        sync_altered_columns(bq_sql, project_id, ctx)

    return sync_dropped_object_then_columns
