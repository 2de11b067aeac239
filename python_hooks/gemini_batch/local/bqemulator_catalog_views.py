"""Give bqemulator the two catalog views `dbt docs generate` reads: `__TABLES__` and COLUMN_FIELD_PATHS.

dbt-bigquery's catalog query (dbt/include/bigquery/macros/catalog/catalog.sql) lists a dataset's tables from the
legacy meta-table `<project>.<dataset>.__TABLES__` and their columns from INFORMATION_SCHEMA.COLUMNS joined to
INFORMATION_SCHEMA.COLUMN_FIELD_PATHS. bqemulator 1.4.0 builds TABLES, COLUMNS, TABLE_OPTIONS and
MATERIALIZED_VIEWS inline from its catalog (bqemulator/sql/rewriter/information_schema.py) but not these two, so
the query failed on the local stack. We add them the same way: before bqemulator's own expansion, each reference is
replaced by a VALUES subquery built from the catalog. The SQL dbt sends is the one real BigQuery reads; only the
local engine learns two more views.

Shapes follow BigQuery:
- `__TABLES__` (a legacy meta-table Google never documented as a view; its columns are the ones dbt-bigquery
  reads): project_id, dataset_id, table_id, creation_time and last_modified_time in milliseconds since the epoch,
  row_count, size_bytes, and type (1 table, 2 view, 3 external - dbt-bigquery's catalog.sql maps them so).
- COLUMN_FIELD_PATHS (https://cloud.google.com/bigquery/docs/information-schema-column-field-paths): one row per
  top-level column and one per field nested in a RECORD/STRUCT column (also inside a repeated one), with
  field_path `col.sub.leaf` and the GoogleSQL data_type of that field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bqemulator.catalog.models import TableFieldSchema, TableMeta
    from bqemulator.catalog.repository import CatalogRepository

_NAME = r"[A-Za-z0-9_\-]+"
# `project`.`dataset`.__TABLES__ (how dbt-bigquery renders it), `project.dataset.__TABLES__`, and the dataset-only
# forms. The project form is substituted first so the dataset-only pattern never sees half of one.
_TABLES_META_PROJECT_DS = re.compile(
    rf"`?(?P<project>{_NAME})`?\s*\.\s*`?(?P<dataset>{_NAME})`?\s*\.\s*`?__TABLES__`?", re.IGNORECASE
)
_TABLES_META_DS = re.compile(rf"`?(?P<dataset>{_NAME})`?\s*\.\s*`?__TABLES__`?", re.IGNORECASE)

_TABLES_META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("project_id", "STRING"),
    ("dataset_id", "STRING"),
    ("table_id", "STRING"),
    ("creation_time", "INT64"),
    ("last_modified_time", "INT64"),
    ("row_count", "INT64"),
    ("size_bytes", "INT64"),
    ("type", "INT64"),
)
# bqemulator's table_type -> the `type` code of __TABLES__. A table clone is a table; dbt-bigquery tells materialized
# views apart through INFORMATION_SCHEMA.MATERIALIZED_VIEWS, so their code here only has to be "not a table".
_TABLES_META_TYPE = {"TABLE": 1, "CLONE": 1, "VIEW": 2}
_OTHER_TYPE = 3

_FIELD_PATHS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("table_catalog", "STRING"),
    ("table_schema", "STRING"),
    ("table_name", "STRING"),
    ("column_name", "STRING"),
    ("field_path", "STRING"),
    ("data_type", "STRING"),
    ("description", "STRING"),
    ("collation_name", "STRING"),
    ("rounding_mode", "STRING"),
)


def _info_schema_patterns(view: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Project- and dataset-qualified INFORMATION_SCHEMA.<view> references (the view needs a dataset qualifier)."""
    tail = rf"INFORMATION_SCHEMA\s*\.\s*{view}`?"
    return (
        re.compile(rf"`?(?P<project>{_NAME})`?\s*\.\s*`?(?P<dataset>{_NAME})`?\s*\.\s*{tail}", re.IGNORECASE),
        re.compile(rf"`?(?P<dataset>{_NAME})`?\s*\.\s*{tail}", re.IGNORECASE),
    )


_FIELD_PATHS_PROJECT_DS, _FIELD_PATHS_DS = _info_schema_patterns("COLUMN_FIELD_PATHS")


def _literal(value: str | None) -> str:
    from bqemulator.sql.rewriter.information_schema import _sql_literal

    return _sql_literal(value)


def _values(columns: tuple[tuple[str, str], ...], rows: Sequence[tuple[str, ...]]) -> str:
    """A subquery with the given columns (typed as BigQuery types them) and rows of SQL literals.

    One SELECT per row joined by UNION ALL, not `VALUES ... AS v(names)`: bqemulator round-trips some statements
    (the catalog query among them) through SQLGlot, which turns VALUES into an UNNEST of STRUCTs and drops the
    column names (bqemulator's information_schema.py works around the same thing in _ts_literal).
    """
    if not rows:
        casts = ", ".join(f"CAST(NULL AS {bq_type}) AS {name}" for name, bq_type in columns)
        return f"(SELECT {casts} WHERE FALSE)"
    selects = (
        "SELECT "
        + ", ".join(
            f"CAST({value} AS {bq_type}) AS {name}" for value, (name, bq_type) in zip(row, columns, strict=True)
        )
        for row in rows
    )
    return f"({' UNION ALL '.join(selects)})"


def _millis(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def tables_meta(tables: tuple[TableMeta, ...], project_id: str, dataset_id: str) -> str:
    """`__TABLES__` of one dataset as a subquery."""
    rows = [
        (
            _literal(project_id),
            _literal(dataset_id),
            _literal(t.table_id),
            _millis(t.creation_time),
            _millis(t.last_modified_time),
            str(int(t.num_rows)),
            str(int(t.num_bytes)),
            str(_TABLES_META_TYPE.get(t.table_type, _OTHER_TYPE)),
        )
        for t in sorted(tables, key=lambda t: t.table_id)
    ]
    return _values(_TABLES_META_COLUMNS, rows)


def _field_paths(field: TableFieldSchema, prefix: str = "") -> Iterator[tuple[str, TableFieldSchema]]:
    path = f"{prefix}{field.name}"
    yield path, field
    if field.type.upper() in {"RECORD", "STRUCT"}:
        for nested in field.fields:
            yield from _field_paths(nested, f"{path}.")


def column_field_paths(tables: tuple[TableMeta, ...], project_id: str, dataset_id: str) -> str:
    """INFORMATION_SCHEMA.COLUMN_FIELD_PATHS of one dataset as a subquery."""
    from bqemulator.sql.rewriter.information_schema import _render_data_type

    rows = [
        (
            _literal(project_id),
            _literal(dataset_id),
            _literal(t.table_id),
            _literal(column.name),
            _literal(path),
            _literal(_render_data_type(field)),
            _literal(field.description),
            _literal(field.collation),
            _literal(field.rounding_mode),
        )
        for t in sorted(tables, key=lambda t: t.table_id)
        for column in t.schema_.fields
        for path, field in _field_paths(column)
    ]
    return _values(_FIELD_PATHS_COLUMNS, rows)


def _expand(
    sql: str,
    patterns: tuple[re.Pattern[str], re.Pattern[str]],
    build: Callable[[tuple[TableMeta, ...], str, str], str],
    project_id: str,
    catalog: CatalogRepository,
) -> str:
    project_ds, ds = patterns

    def with_project(match: re.Match[str]) -> str:
        project, dataset = match.group("project"), match.group("dataset")
        return build(catalog.list_tables(project, dataset), project, dataset)

    def default_project(match: re.Match[str]) -> str:
        dataset = match.group("dataset")
        return build(catalog.list_tables(project_id, dataset), project_id, dataset)

    return ds.sub(default_project, project_ds.sub(with_project, sql))


def expand_catalog_views(sql: str, project_id: str, catalog: CatalogRepository) -> str:
    """Replace every `__TABLES__` and INFORMATION_SCHEMA.COLUMN_FIELD_PATHS reference by its rows."""
    if "__TABLES__" in sql.upper():
        sql = _expand(sql, (_TABLES_META_PROJECT_DS, _TABLES_META_DS), tables_meta, project_id, catalog)
    if "COLUMN_FIELD_PATHS" in sql.upper():
        sql = _expand(sql, (_FIELD_PATHS_PROJECT_DS, _FIELD_PATHS_DS), column_field_paths, project_id, catalog)
    return sql


def _split_top_level(text: str) -> list[str]:
    """Split a VALUES row's contents at the commas outside quotes and parentheses."""
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote  # '' inside a literal closes and reopens: still one literal
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


_VALUES_START = re.compile(r"\(VALUES\s*", re.IGNORECASE)
_VALUES_ALIAS = re.compile(r"\s*\)\s*AS\s+(?P<alias>\w+)\((?P<names>[\w\s,]+)\)")


def values_as_selects(sql: str) -> str:
    """Rewrite each `(VALUES (..), (..)) AS v(a, b)` as `(SELECT .. AS a, .. AS b UNION ALL SELECT ..) AS v`.

    bqemulator builds its INFORMATION_SCHEMA views (COLUMNS, TABLE_OPTIONS, MATERIALIZED_VIEWS, ...) as VALUES
    lists with named columns. Some statements - dbt's catalog query among them - are round-tripped through SQLGlot,
    which turns such a list into an UNNEST of STRUCTs and loses the names, so `columns.table_name` no longer binds
    (bqemulator's _ts_literal works around one trigger of that round trip). SELECTs joined by UNION ALL keep them.
    """
    from gemini_batch.local.bqemulator_options import _matching_paren

    out: list[str] = []
    cursor = 0
    while match := _VALUES_START.search(sql, cursor):
        rows: list[list[str]] = []
        i = match.end()
        while (end := _matching_paren(sql, i)) is not None:
            rows.append(_split_top_level(sql[sql.index("(", i) + 1 : end]))
            i = end + 1
            comma = re.match(r"\s*,\s*", sql[i:])
            if not comma:
                break
            i += comma.end()
        alias = _VALUES_ALIAS.match(sql, i)
        names = [n.strip() for n in alias.group("names").split(",")] if alias else []
        if not rows or not alias or any(len(row) != len(names) for row in rows):
            out.append(sql[cursor : match.end()])  # not the shape bqemulator writes: leave it alone
            cursor = match.end()
            continue
        first = "SELECT " + ", ".join(f"{value} AS {name}" for value, name in zip(rows[0], names, strict=True))
        selects = [first, *("SELECT " + ", ".join(row) for row in rows[1:])]
        out.append(f"{sql[cursor : match.start()]}({' UNION ALL '.join(selects)}) AS {alias.group('alias')}")
        cursor = alias.end()
    out.append(sql[cursor:])
    return "".join(out)


def install() -> None:
    """Run our expansion around bqemulator's own INFORMATION_SCHEMA expansion (before the app is built)."""
    from bqemulator.sql import inner_query

    original = inner_query.expand_information_schema
    if getattr(original, "__wrapped_by_gemini_batch__", False):
        return

    def expand_information_schema(bq_sql: str, project_id: str, catalog: CatalogRepository) -> str:
        expanded = original(expand_catalog_views(bq_sql, project_id, catalog), project_id, catalog)
        return values_as_selects(expanded) if expanded != bq_sql else bq_sql

    expand_information_schema.__wrapped_by_gemini_batch__ = True  # type: ignore[attr-defined]
    inner_query.expand_information_schema = expand_information_schema
