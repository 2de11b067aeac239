"""The job ledger (`gemini_batch_jobs`): state events of Vertex batch jobs; the hook appends, the package reads.

Append-only: every change of a job is a new row holding the job's whole state (an event), never an UPDATE. BigQuery
runs at most two mutating DML statements (UPDATE, DELETE, MERGE) per table at once, queues a few more and fails the
rest with "Could not serialize access to table ... due to concurrent update"; INSERT statements do not conflict with
each other (cloud.google.com/bigquery/docs/data-manipulation-language#dml_statement_conflicts, "Concurrent INSERT DML
statements ... never conflict"). With many models and threads writing one ledger, updates would be lost; inserts land.
A job's current state is its latest event: `latest_sql()` (QUALIFY on updated_at per input_table, which is unique per
job) for the hook, the same in models/ledger/gemini_batch_job_history.sql for the package's models.

A job belongs to one answer cache: `responses_table` (project.dataset.m__responses) is recorded with every event and
every lookup filters by it, so targets or projects sharing one ledger never see each other's jobs.

The table is created by dbt (macros/ledger/create_ledger_table.sql, an on-run-start hook of the package). Events are
written before a job is created (state SUBMITTING) and after, so a crash in between leaves a trace the next run
resolves instead of submitting the same rows twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from gemini_batch.identifiers import IdentifierError, quoted
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
    "missing_count": "INT64",
    "mismatched_count": "INT64",
    # tokens of the job's requests whose prompt was above the model's long_context_threshold (priced at the long rates)
    "long_context_prompt_tokens": "INT64",
    "long_context_output_tokens": "INT64",
    "long_context_thoughts_tokens": "INT64",
    "long_context_cached_tokens": "INT64",
    "invocation_id": "STRING",
    "lease_token": "STRING",
    "submitted_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "collected_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    # NULL or batch: a Vertex batch job; inline: a dbt run that answered with AI.GENERATE (_answer_inline.sql)
    "kind": "STRING",
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
    # the generation of the lease the writer held (batch/lease.py): which holder wrote each event
    lease_token: str | None = None
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
    missing_count: int | None = None  # rows sent that the output neither answered nor failed
    long_context_prompt_tokens: int | None = None  # of the requests above the model's long_context_threshold
    long_context_output_tokens: int | None = None
    long_context_thoughts_tokens: int | None = None
    long_context_cached_tokens: int | None = None
    mismatched_count: int | None = None  # output rows naming no request sent in the job (unmatched): never merged
    submitted_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    collected_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    kind: str | None = None  # the hook's rows leave it NULL (batch); inline rows come from the materialization

    @property
    def is_collected(self) -> bool:
        return self.collected_at is not None


def _param(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    return bigquery.ScalarQueryParameter(name, COLUMNS[name], value)


class Ledger:
    def __init__(self, client: bigquery.Client, table: str, query_defaults: QueryDefaults | None = None) -> None:
        self.client = client
        # the project and dataset come from vars (gemini_batch_ledger_database/_schema): checked before any SQL
        try:
            self.sql_table = quoted(table, "the job ledger (vars gemini_batch_ledger_database/_schema)")
        except IdentifierError as exc:
            raise LedgerError(str(exc)) from exc
        self.table = table
        self.query_defaults = query_defaults or QueryDefaults()

    @property
    def dataset(self) -> str:
        """project.dataset of the ledger: where leases live too (batch/lease.py)."""
        return self.table.rsplit(".", 1)[0]

    def latest_sql(self) -> str:
        """The current state of every job: its latest event."""
        return (
            f"select * from {self.sql_table} "
            "qualify row_number() over (partition by input_table order by updated_at desc) = 1"
        )

    def _query(
        self,
        sql: str,
        params: list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter],
        node: str | None = None,
    ) -> list[bigquery.Row]:
        from gemini_batch.batch.context import BQ_REQUEST_SECONDS, BQ_RETRY  # (batch.context imports this module)

        try:
            config = self.query_defaults.config(params, node=node)
            job = self.client.query(sql, job_config=config, retry=BQ_RETRY, timeout=BQ_REQUEST_SECONDS)
            return list(job.result(timeout=300, retry=BQ_RETRY))
        except gexc.NotFound as exc:
            raise LedgerError(
                f"the job ledger {self.table} does not exist: it is created by the gemini_batch package's "
                "on-run-start hook, so run `dbt run` (or dbt-gemini-batch run) in the project first"
            ) from exc

    def _append(self, entry: LedgerEntry) -> None:
        # kind is left out while unset, so a ledger made before the column existed still takes the hook's rows
        values = {k: v for k, v in asdict(entry).items() if k in COLUMNS and not (k == "kind" and v is None)}
        names = list(values)
        sql = f"insert into {self.sql_table} ({', '.join(names)}) values ({', '.join('@' + n for n in names)})"
        self._query(sql, [_param(n, values[n]) for n in names], node=entry.dbt_node)

    @staticmethod
    def _stamp(entry: LedgerEntry) -> None:
        # strictly after the entry's previous event, so the latest event is well defined even within a microsecond
        now = dt.datetime.now(dt.UTC)
        if entry.updated_at is not None and now <= entry.updated_at:
            now = entry.updated_at + dt.timedelta(microseconds=1)
        entry.updated_at = now

    def insert(self, entry: LedgerEntry) -> None:
        """The first event of a job."""
        entry.submitted_at = entry.submitted_at or dt.datetime.now(dt.UTC)
        self._stamp(entry)
        self._append(entry)

    def update(self, entry: LedgerEntry, **changes: Any) -> None:
        """Set fields of the entry in memory and append its new state as an event (input_table identifies the job)."""
        for key, value in changes.items():
            setattr(entry, key, value)
        self._stamp(entry)
        self._append(entry)

    def current(self, entry: LedgerEntry) -> LedgerEntry | None:
        """The job's latest state in the table (another process may have moved it on since `entry` was read)."""
        rows = self._query(
            f"select * from ({self.latest_sql()}) where input_table = @input_table and responses_table = "
            "@responses_table",
            [_param("input_table", entry.input_table), _param("responses_table", entry.responses_table)],
            node=entry.dbt_node,
        )
        return _entry(rows[0]) if rows else None

    def uncollected(self, dbt_node: str, responses_table: str) -> list[LedgerEntry]:
        """Jobs of a node's answer cache not merged yet: in flight, or finished but not collected.

        Filtered by `responses_table` too: the same model built by another target or project has the same unique_id
        and may share the ledger, but never the cache; its jobs are not ours to collect.
        """
        rows = self._query(
            f"select * from ({self.latest_sql()}) where dbt_node = @dbt_node and responses_table = @responses_table "
            "and collected_at is null order by submitted_at",
            [_param("dbt_node", dbt_node), _param("responses_table", responses_table)],
            node=dbt_node,
        )
        return [_entry(row) for row in rows]

    def events_mark(self, responses_table: str, excluding: str | None, dbt_node: str) -> tuple[int, int]:
        """How many events the ledger holds for the jobs of one answer cache, and the latest one's time (unix
        microseconds, 0 when none), leaving out the jobs whose input table name contains `excluding` (None: none left
        out). Events are only ever appended, so a different mark means another job (or an inline answer, whose row
        the materialization writes after its answers) has moved since the mark was taken. The materialization takes
        the same mark with the same statement (macros/materializations/gemini_batch/_ledger_mark.sql)."""
        params: list[Any] = [_param("responses_table", responses_table)]
        where = "responses_table = @responses_table"
        if excluding is not None:
            where += " and strpos(input_table, @excluding) = 0"
            params.append(bigquery.ScalarQueryParameter("excluding", "STRING", excluding))
        rows = self._query(
            f"select count(*) as n, coalesce(unix_micros(max(updated_at)), 0) as latest from {self.sql_table} "
            f"where {where}",
            params,
            node=dbt_node,
        )
        return int(rows[0]["n"]), int(rows[0]["latest"])

    def by_input_tables(self, responses_table: str, input_tables: list[str]) -> dict[str, LedgerEntry]:
        """The current state of the jobs of these input tables in one answer cache (input_table -> entry)."""
        rows = self._query(
            f"select * from ({self.latest_sql()}) where responses_table = @responses_table "
            "and input_table in unnest(@tables)",
            [
                _param("responses_table", responses_table),
                bigquery.ArrayQueryParameter("tables", "STRING", input_tables),
            ],
        )
        return {row["input_table"]: _entry(row) for row in rows}

    def recent(
        self, dbt_nodes: list[str], limit: int = 20, responses_tables: list[str] | None = None
    ) -> list[LedgerEntry]:
        where = "dbt_node in unnest(@nodes)"
        params: list[Any] = [bigquery.ArrayQueryParameter("nodes", "STRING", dbt_nodes)]
        if responses_tables is not None:
            where += " and responses_table in unnest(@caches)"
            params.append(bigquery.ArrayQueryParameter("caches", "STRING", responses_tables))
        rows = self._query(
            f"select * from ({self.latest_sql()}) where {where} order by submitted_at desc limit {limit:d}", params
        )
        return [_entry(row) for row in rows]


def _entry(row: bigquery.Row) -> LedgerEntry:
    names = {f.name for f in fields(LedgerEntry)}
    return LedgerEntry(**{k: v for k, v in dict(row).items() if k in names})
