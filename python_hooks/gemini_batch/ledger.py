"""The job ledger (`gemini_batch_jobs`): one row per Vertex batch job; the hook writes it, the package's models read it.

The table is created by dbt (macros/ledger/create_ledger_table.sql, an on-run-start hook of the package), so the
hook only inserts and updates. Rows are written before a job is created (state SUBMITTING) and after, so a crash in
between leaves a trace the next run resolves instead of submitting the same rows twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from gemini_batch.query_config import QueryDefaults

# BigQuery types of the ledger columns, in the order of the DDL in macros/ledger/create_ledger_table.sql.
COLUMNS: dict[str, str] = {
    "job_name": "STRING",
    "display_name": "STRING",
    "dbt_node": "STRING",
    "responses_table": "STRING",
    "gemini_model": "STRING",
    "vertex_project": "STRING",
    "vertex_location": "STRING",
    "input_table": "STRING",
    "output_table": "STRING",
    "state": "STRING",
    "error": "STRING",
    "request_count": "INT64",
    "succeeded_count": "INT64",
    "failed_count": "INT64",
    "prompt_tokens": "INT64",
    "output_tokens": "INT64",
    "thoughts_tokens": "INT64",
    "cached_tokens": "INT64",
    "total_tokens": "INT64",
    "invocation_id": "STRING",
    "submitted_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "collected_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
}

SUBMITTING = "SUBMITTING"  # our own state: the row exists, the Vertex job may not yet


class LedgerError(RuntimeError):
    pass


@dataclass
class LedgerEntry:
    display_name: str
    dbt_node: str
    responses_table: str
    gemini_model: str
    vertex_project: str
    vertex_location: str
    input_table: str
    request_count: int
    invocation_id: str | None = None
    job_name: str | None = None
    output_table: str | None = None
    state: str = SUBMITTING
    error: str | None = None
    succeeded_count: int | None = None
    failed_count: int | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    thoughts_tokens: int | None = None
    cached_tokens: int | None = None
    total_tokens: int | None = None
    submitted_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    collected_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def is_collected(self) -> bool:
        return self.collected_at is not None


def _param(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    return bigquery.ScalarQueryParameter(name, COLUMNS[name], value)


class Ledger:
    def __init__(self, client: bigquery.Client, table: str, query_defaults: QueryDefaults | None = None) -> None:
        self.client = client
        self.table = table
        self.query_defaults = query_defaults or QueryDefaults()

    def _query(
        self, sql: str, params: list[bigquery.ScalarQueryParameter], node: str | None = None
    ) -> list[bigquery.Row]:
        job = self.client.query(sql, job_config=self.query_defaults.config(params, node=node))
        try:
            return list(job.result(timeout=300))
        except gexc.NotFound as exc:
            raise LedgerError(
                f"the job ledger {self.table} does not exist: it is created by the gemini_batch package's "
                "on-run-start hook, so run `dbt run` (or dbt-gemini-batch run) in the project first"
            ) from exc

    def insert(self, entry: LedgerEntry) -> None:
        now = dt.datetime.now(dt.UTC)
        entry.submitted_at = entry.submitted_at or now
        entry.updated_at = now
        values = {k: v for k, v in asdict(entry).items() if k in COLUMNS}
        names = list(values)
        sql = f"insert into `{self.table}` ({', '.join(names)}) values ({', '.join('@' + n for n in names)})"
        self._query(sql, [_param(n, values[n]) for n in names], node=entry.dbt_node)

    def update(self, entry: LedgerEntry, **changes: Any) -> None:
        """Set fields of the entry (identified by input_table, unique per job) in memory and in the table."""
        changes["updated_at"] = dt.datetime.now(dt.UTC)
        for key, value in changes.items():
            setattr(entry, key, value)
        assignments = ", ".join(f"{k} = @{k}" for k in changes)
        params = [_param(k, v) for k, v in changes.items()]
        params.append(_param("input_table", entry.input_table))
        sql = f"update `{self.table}` set {assignments} where input_table = @input_table"
        self._query(sql, params, node=entry.dbt_node)

    def uncollected(self, dbt_node: str) -> list[LedgerEntry]:
        """Jobs of a node whose answers have not been merged yet: in flight, or finished but not collected."""
        rows = self._query(
            f"select * from `{self.table}` where dbt_node = @dbt_node and collected_at is null order by submitted_at",
            [_param("dbt_node", dbt_node)],
            node=dbt_node,
        )
        return [_entry(row) for row in rows]

    def recent(self, dbt_nodes: list[str], limit: int = 20) -> list[LedgerEntry]:
        rows = self._query(
            f"select * from `{self.table}` where dbt_node in unnest(@nodes) order by submitted_at desc limit {limit:d}",
            [bigquery.ArrayQueryParameter("nodes", "STRING", dbt_nodes)],  # type: ignore[list-item]
        )
        return [_entry(row) for row in rows]


def _entry(row: bigquery.Row) -> LedgerEntry:
    names = {f.name for f in fields(LedgerEntry)}
    return LedgerEntry(**{k: v for k, v in dict(row).items() if k in names})
