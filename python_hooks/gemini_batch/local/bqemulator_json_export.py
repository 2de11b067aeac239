"""Let bqemulator's `EXPORT DATA ... format='JSON'` write a JSON-typed column as a JSON value, as BigQuery does.

BigQuery writes a JSON column into newline-delimited JSON as the value itself (`"request": {"contents": ...}`); only
INT64 columns change, to strings (cloud.google.com/bigquery/docs/reference/standard-sql/other-statements, EXPORT DATA).
bqemulator materialises the query as Arrow, where JSON is a string marked with the field metadata
`bqemu.duckdb_type = JSON`, and DuckDB's COPY then writes it as a quoted string. The Cloud Storage transport
(batch/gcs.py) exports `{"request_hash": ..., "request": {...}}` lines this way and Vertex reads `request` as an object,
so the local stack casts such columns back to DuckDB's JSON type inside the COPY. The SQL we ship is unchanged.
"""

from __future__ import annotations

import contextvars
from typing import Any

_JSON_COLUMNS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("bqemu_json_columns", default=())


def json_columns(arrow_schema: Any) -> tuple[str, ...]:
    """Names of the top-level columns bqemulator marks as BigQuery JSON."""
    names = []
    for field in arrow_schema:
        marked = (field.metadata or {}).get(b"bqemu.duckdb_type")
        if marked is not None and marked.decode("utf-8").upper() == "JSON":
            names.append(field.name)
    return tuple(names)


def json_select(relation_sql: str, columns: tuple[str, ...]) -> str:
    """`SELECT * FROM view` with the JSON columns cast to DuckDB JSON (written as values, not strings)."""
    if not columns:
        return relation_sql
    casts = ", ".join(f'CAST("{c}" AS JSON) AS "{c}"' for c in (name.replace('"', '""') for name in columns))
    return relation_sql.replace("SELECT *", f"SELECT * REPLACE ({casts})", 1)


def install() -> None:
    from bqemulator.jobs import executor

    if getattr(executor, "_gemini_batch_json_export", False):
        return
    write_export = executor.write_export
    copy_relation = executor._copy_relation_to_file

    def write_export_with_json(arrow_table: Any, options: Any, ctx: Any) -> Any:
        token = _JSON_COLUMNS.set(json_columns(arrow_table.schema) if options.format != "CSV" else ())
        try:
            return write_export(arrow_table, options, ctx)
        finally:
            _JSON_COLUMNS.reset(token)

    def copy_relation_with_json(relation_sql: str, dest_path: str, fmt: str, ctx: Any, **kwargs: Any) -> None:
        if fmt.upper() in ("JSON", "NEWLINE_DELIMITED_JSON"):
            relation_sql = json_select(relation_sql, _JSON_COLUMNS.get())
        copy_relation(relation_sql, dest_path, fmt, ctx, **kwargs)

    executor.write_export = write_export_with_json
    executor._copy_relation_to_file = copy_relation_with_json
    executor._gemini_batch_json_export = True  # type: ignore[attr-defined]
