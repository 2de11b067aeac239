"""What one run of the package would bill on on-demand BigQuery, at caches of 1M, 10M and 100M answers.

The local BigQuery bills nothing, so this benchmark records every statement the package runs (the materialization's
and the hook's: every BigQuery job dbt and the hook send, captured by a proxy in front of the local BigQuery,
counting_proxy.py) in three runs of one `gemini_batch` model of N review prompts (pipeline_throughput.py's model):
the first run, an unchanged re-run and a run with 1% new rows. It measures the bytes per row of each column on that
data, then prices every statement by BigQuery's on-demand rules, extrapolated to caches of 1M, 10M and 100M answers:

- a query bills the bytes of every column it references of every table it scans, whole columns, whatever the WHERE
  or LIMIT (cloud.google.com/bigquery/docs/estimate-costs#query_size_calculation: "BigQuery ... calculates the total
  number of bytes processed based on the columns you select and the data types ... LIMIT does not affect cost");
- at least 10 MB per table referenced (cloud.google.com/bigquery/pricing#on_demand_pricing: "a minimum of 10 MB data
  processed per table referenced by the query");
- a MERGE, UPDATE or DELETE adds the bytes of the whole target table (every column) at the start of the statement;
  an INSERT bills only what its query reads (cloud.google.com/bigquery/pricing#dml_pricing_for_non-partitioned_tables,
  "UPDATE, DELETE, MERGE: the sum of bytes processed for all the columns referenced in all tables scanned by the
  query + the sum of bytes for all columns in the modified table at the time the UPDATE starts");
- clustering prunes blocks only for a filter on the clustering column with constant values (a literal IN list, an
  equality with a literal): cloud.google.com/bigquery/docs/querying-clustered-tables ("filter on clustered columns
  ... do not use clustered columns in complex filter expressions ... do not compare clustered columns to other
  columns"); a join or subquery prunes nothing;
- DDL (CREATE TABLE without AS, CREATE VIEW, DROP, ALTER, TRUNCATE), copy jobs and metadata reads are free
  (cloud.google.com/bigquery/pricing#free); CREATE TABLE AS SELECT bills its SELECT;
- logical bytes per column: STRING 2 + its UTF-8 length, INT64/FLOAT64/TIMESTAMP 8, BOOL 1, JSON the length of its
  text (an estimate; cloud.google.com/bigquery/docs/reference/standard-sql/data-types#data_type_sizes);
- USD 6.25 per TiB (cloud.google.com/bigquery/pricing#on_demand_pricing, the US multi-region list price).

Rows per table at a cache of C answers: m__requests, its staging table, m__responses and m__answer_history C (a
first run of N rows starts from an empty cache: N/2 on average while its jobs are merged); a run's
changed rows D (first run D = C, unchanged 0, +1% C/100) in the submission's pending table and, split over
J = ceil(1.1 D / 200,000) jobs, in each job's input, output and m__collected tables: statements that read a job's
tables run J times. Statements are read with sqlglot (columns resolved to their tables through every subquery).
Estimates from the SQL text, not dry runs. Prints per run and scale the bytes and USD and PASS/MISS against the
issue's targets (the model's own SQL, which only an incremental model avoids, is shown apart and not counted):
unchanged <= 2 GB at 10M; +1% <= 3x the changed rows' bytes + the hash columns; no statement bills the whole cache;
first run of N rows <= 3x the bytes of their requests and answers.

    python benchmarks/bill_model.py [--rows 20000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from google.cloud import bigquery
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

from counting_proxy import CountingProxy
from gemini_batch.batch.collect import USAGE_FIELDS
from gemini_batch.batch.plan import STATE_COLUMN
from gemini_batch.local.clients import local_bigquery_client
from gemini_batch.local.stack import LocalStack, StackConfig
from pipeline_throughput import DATASET, MODEL, model_sql, repo_root, run_checked, write_project

USD_PER_TIB = 6.25
TIB = 1024**4
GB = 1000**3
MIN_BYTES_PER_TABLE = 10 * 1024**2
MAX_REQUESTS_PER_JOB = 200_000
SCALES = (1_000_000, 10_000_000, 100_000_000)
TARGET_SCALE = 10_000_000
UNCHANGED_TARGET = 2 * GB
# Columns of a view computed from others: m__collected_judged's output_state parses the answer (_answer_state).
VIEW_COLUMNS = {("judged", "output_state"): {"request", "response", "status"}}
JOB_KINDS = {"input", "output", "collected", "judged"}
# sizes[FIXED][kind][column]: the bytes of a column whose non-NULL values do not grow with the rows (NULL is 0 bytes,
# cloud.google.com/bigquery/docs/reference/standard-sql/data-types#data_type_sizes): m__requests'
# gemini_batch_response_schema holds a schema on one row per schema and hash prefix (256 per schema) only.
FIXED = "fixed_bytes"
# pruned[table] = CHANGED_ROWS: a constant filter on m__requests' first clustering column gemini_batch_state (the
# rows' cache state when staged: `>= 1` keeps what may be pending) keeps the run's changed rows' blocks only.
CHANGED_ROWS = -1
SPARSE_SCHEMA = "gemini_batch_response_schema"
# Tables of the model (alias MODEL) by name, longest pattern first.
KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"{MODEL}__gemini_batch_view_\w+"), "source"),
    (re.compile(rf"{MODEL}__gemini_batch_table_\w+"), "staging"),
    (re.compile(rf"{MODEL}__batch_\w+_pending"), "pending"),
    (re.compile(rf"{MODEL}__batch_\w+_\d+_out"), "output"),
    (re.compile(rf"{MODEL}__batch_\w+_\d+"), "input"),
    (re.compile(rf"{MODEL}__requests"), "requests"),
    (re.compile(rf"{MODEL}__responses"), "responses"),
    (re.compile(rf"{MODEL}__answer_history"), "history"),
    (re.compile(rf"{MODEL}__collected_judged"), "judged"),
    (re.compile(rf"{MODEL}__collected"), "collected"),
    (re.compile(rf"{MODEL}"), "model_view"),
]


def kind_of(table: str) -> str:
    name = table.rsplit(".", 1)[-1].strip("`")
    for pattern, kind in KINDS:
        if pattern.fullmatch(name):
            return kind
    return "small"  # the ledger, price lists, INFORMATION_SCHEMA: the 10 MB minimum


# -- capture ---------------------------------------------------------------------------------------------------------
@dataclass
class Capture:
    statements: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_request(self, method: str, path: str, body: bytes) -> None:
        if method != "POST" or not body:
            return
        try:
            payload = json.loads(body)
        except ValueError:
            return
        sql = None
        if path.rstrip("/").endswith("/queries"):
            sql = payload.get("query")
        elif path.split("?")[0].rstrip("/").endswith("/jobs"):
            sql = ((payload.get("configuration") or {}).get("query") or {}).get("query")
        if sql:
            with self.lock:
                self.statements.append((time.monotonic(), sql))

    def between(self, start: float, end: float) -> list[str]:
        with self.lock:
            return [sql for t, sql in self.statements if start <= t <= end]


# -- pricing ---------------------------------------------------------------------------------------------------------
@dataclass
class Scale:
    cache: int  # C: rows of the model, and answers in the cache before the run
    changed: int  # D
    cache_rows: int | None = None  # answers in the cache while the run reads it (first run: half of D on average)

    @property
    def jobs(self) -> int:
        return max(1, math.ceil(self.changed * 1.1 / MAX_REQUESTS_PER_JOB)) if self.changed else 0

    def rows(self, kind: str, pruned: int | None = None) -> float:
        if kind in ("responses", "history"):
            full = float(self.cache if self.cache_rows is None else self.cache_rows)
        elif kind in ("requests", "staging", "source", "model_view"):
            full = float(self.cache)
        elif kind == "pending":
            full = float(self.changed)
        elif kind in JOB_KINDS:
            full = self.changed / max(1, self.jobs)
        else:
            return 0.0
        if pruned == CHANGED_ROWS:
            return min(full, float(self.changed))
        if pruned is not None:
            return min(full, float(pruned))
        return full


@dataclass
class Priced:
    label: str
    sql: str
    reads: dict[str, set[str]]  # table -> columns
    pruned: dict[str, int | None]  # table -> rows a constant filter keeps (None: bucket of the pending table)
    target: str | None  # DML target billed whole
    per_job: bool
    free: bool = False
    conservative: bool = False  # sqlglot could not resolve its columns: every column of every table it names

    def bytes(self, scale: Scale, sizes: dict[str, dict[str, float]], source: bool | None = None) -> float:
        """Bytes billed; source True/False: only the tables of the model's own SQL (kind source) / only the others
        (a statement that runs the model's SQL and also reads the cache bills both)."""
        if self.free:
            return 0.0
        total = 0.0
        tables = set(self.reads) | ({self.target} if self.target else set())
        if source is not None:
            tables = {t for t in tables if (kind_of(t) == "source") == source}
        for table in tables:
            kind = kind_of(table)
            if kind == "pending" and table in self.pruned:
                rows = scale.changed / max(1, scale.jobs)
            else:
                rows = scale.rows(kind, self.pruned.get(table))
            columns = set(self.reads.get(table, set()))
            for column in list(columns):  # a view's derived column reads the columns it is computed from
                columns |= VIEW_COLUMNS.get((kind, column), set())
            if table == self.target:
                columns |= set(sizes.get(kind, {})) | set(sizes.get(FIXED, {}).get(kind, {}))
            fixed = sizes.get(FIXED, {}).get(kind, {})
            per_row = sum(sizes.get(kind, {}).get(c, 8.0) for c in columns if c not in fixed)
            total += max(MIN_BYTES_PER_TABLE, rows * per_row + sum(fixed[c] for c in columns if c in fixed))
        return total * (scale.jobs if self.per_job else 1)

    def bills_whole_cache(self, sizes: dict[str, dict[str, float]]) -> bool:
        """True when the statement bills the cache's wide columns (request, response) for every row, or the whole
        cache as a DML target."""
        for table, columns in self.reads.items():
            if kind_of(table) == "responses" and self.pruned.get(table) is None and columns & {"request", "response"}:
                return True
        return bool(self.target and kind_of(self.target) == "responses" and self.pruned.get(self.target) is None)


def _table_name(table: exp.Table) -> str:
    return ".".join(p for p in (table.catalog, table.db, table.name) if p)


def analyse(sql: str, columns_of: dict[str, list[str]]) -> Priced:
    """The tables and columns one statement reads, its DML target and its constant filters."""
    label = _label(sql)
    try:
        tree = sqlglot.parse_one(sql, read="bigquery")
    except sqlglot.errors.ParseError:
        tree = None
    if tree is None or isinstance(tree, exp.Command):
        free = bool(re.match(r"\s*(create|drop|alter|truncate|begin|commit)\b", sql, re.I)) and " as " not in sql
        tables = {m: set(columns_of.get(kind_of(m), [])) for m in re.findall(r"`([\w.-]+)`", sql)}
        return Priced(label, sql, {} if free else tables, {}, None, False, free=free)
    target: str | None = None
    query: exp.Expression | None = tree
    if isinstance(tree, exp.Create):
        query = tree.expression if isinstance(tree.expression, exp.Query) else None
        kind = (tree.args.get("kind") or "").upper()
        if query is None or kind == "VIEW":
            return Priced(label, sql, {}, {}, None, False, free=True)
    elif isinstance(tree, exp.Drop | exp.Alter | exp.TruncateTable):
        return Priced(label, sql, {}, {}, None, False, free=True)
    elif isinstance(tree, exp.Insert):
        query = tree.expression if isinstance(tree.expression, exp.Query) else None
        if query is None:
            return Priced(label, sql, {}, {}, None, False, free=True)
    elif isinstance(tree, exp.Merge | exp.Update | exp.Delete):
        target_table = tree.this if isinstance(tree.this, exp.Table) else tree.find(exp.Table)
        target = _table_name(target_table) if target_table is not None else None
        # what the statement reads besides its target (billed whole): a MERGE's USING source
        using = tree.args.get("using")
        query = using.this if isinstance(using, exp.Subquery) else exp.select("*").from_(using) if using else None
        if query is None:
            return Priced(label, sql, {}, {}, target, False)
    schema: dict[str, dict[str, dict[str, dict[str, str]]]] = {}
    for table in tree.find_all(exp.Table):
        columns = columns_of.get(kind_of(_table_name(table)), [])
        if not table.db or not columns:  # a CTE, or a table of the 10 MB minimum
            continue
        schema.setdefault(table.catalog, {}).setdefault(table.db, {})[table.name] = {c: "STRING" for c in columns}
    reads: dict[str, set[str]] = defaultdict(set)
    failure = ""
    assert query is not None
    try:
        qualified = qualify(query.copy(), schema=schema, dialect="bigquery", validate_qualify_columns=False)
        scopes = traverse_scope(qualified)
    except Exception as exc:
        scopes = []
        failure = f"{exc.__class__.__name__}: {exc}"
    for scope in scopes:
        for table in scope.tables:
            reads[_table_name(table)]  # referenced: at least the 10 MB minimum
        for column in scope.columns:
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                reads[_table_name(source)].add(column.name)
    if not scopes:
        for table in query.find_all(exp.Table):
            reads[_table_name(table)] |= set(columns_of.get(kind_of(_table_name(table)), []))
    pruned: dict[str, int | None] = {}
    for node in tree.find_all(exp.In):
        if isinstance(node.this, exp.Column) and node.this.name == "request_hash":
            values = node.expressions
            if values and all(isinstance(v, exp.Literal) for v in values):
                for table in list(reads) + ([target] if target else []):
                    if kind_of(table) == "responses":
                        pruned[table] = len(values)
    for node in tree.find_all(exp.EQ):
        sides = (node.this, node.expression)
        if any(isinstance(s, exp.Column) and s.name == "bucket" for s in sides) and any(
            isinstance(s, exp.Literal) for s in sides
        ):
            for table in reads:
                if kind_of(table) == "pending":
                    pruned[table] = None
    for node in tree.find_all(exp.GTE, exp.GT, exp.EQ, exp.In):
        sides = (node.this, *(node.expressions if isinstance(node, exp.In) else [node.expression]))
        if (
            isinstance(node.this, exp.Column)
            and node.this.name == STATE_COLUMN
            and all(isinstance(v, exp.Literal) for v in sides[1:])
        ):
            for table in reads:
                if kind_of(table) in ("requests", "staging"):
                    pruned[table] = CHANGED_ROWS
    per_job = any(kind_of(t) in JOB_KINDS for t in reads) or any(kind_of(t) == "pending" and t in pruned for t in reads)
    return Priced(label, sql, dict(reads), pruned, target, per_job, conservative=bool(failure))


def _label(sql: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", sql, flags=re.S)  # dbt's query comment
    text = re.sub(r"\s+", " ", re.sub(r"--[^\n]*", "", text)).strip()
    text = re.sub(r"`[\w.-]+\.([\w-]+)`", r"\1", text)
    return text[:110]


# -- column sizes ----------------------------------------------------------------------------------------------------
def measure(client: bigquery.Client, dataset: str) -> dict[str, dict[str, float]]:
    """Logical bytes per row of every column, measured on the benchmark's tables."""

    def one(sql: str) -> dict[str, float]:
        row = next(iter(client.query(sql).result()))
        return {k: float(v or 0) for k, v in dict(row).items()}

    req = one(
        f"select avg(byte_length(request)) as request, avg(byte_length(request_hash)) as request_hash "
        f"from `{dataset}.{MODEL}__requests`"
    )
    res = one(
        "select avg(byte_length(to_json_string(response))) as response, avg(byte_length(status)) as status, "
        "avg(byte_length(job_name)) as job_name, avg(byte_length(request)) as request "
        f"from `{dataset}.{MODEL}__responses`"
    )
    his = one(f"select avg(byte_length(row_key)) as row_key from `{dataset}.{MODEL}__answer_history`")
    states = one(f"select avg(if(gemini_batch_first, 1, 0)) as first from `{dataset}.{MODEL}__requests`")
    sparse = one(
        f"select coalesce(sum(2 + byte_length({SPARSE_SCHEMA})), 0) as total from `{dataset}.{MODEL}__requests` "
        f"where {SPARSE_SCHEMA} is not null"
    )
    request, hash_, response = 2 + req["request"], 2 + req["request_hash"], res["response"]
    status, job_name = 2 + res["status"], 2 + res["job_name"]
    return {
        "source": {"id": 8, "request": request},
        "requests": {"id": 8, "request": request, "request_hash": hash_, STATE_COLUMN: 8,
                     "gemini_batch_first": states["first"]},
        "staging": {"id": 8, "request": request, "request_hash": hash_, STATE_COLUMN: 8,
                    "gemini_batch_first": states["first"]},
        "responses": {
            "request_hash": hash_, "request": 2 + res["request"], "response": response, "status": status,
            "processed_time": 8, "job_name": job_name, "attempts": 8, "updated_at": 8, "judged_at": 8,
            "failed_jobs": 8,
        },
        "history": {"row_key": 2 + his["row_key"], "request_hash": hash_, "answered_at": 8},
        # file_request: NULL (0 bytes) for a request naming no fileUri, as every one of the benchmark's
        "pending": {"request_hash": hash_, "request": request, "bucket": 8, "file_request": 0},
        "input": {"request_hash": hash_, "request": request},
        "output": {"request_hash": hash_, "request": request, "response": response, "status": status,
                   "processed_time": 8},
        "collected": {"request_hash": hash_, "request": request, "response": response, "status": status,
                      "processed_time": 8, "matches": 1, "raw_key": hash_,
                      **{name: 8 for name, _ in USAGE_FIELDS}},
        "judged": {"request_hash": hash_, "request": request, "response": response, "status": status,
                   "processed_time": 8, "matches": 1, "output_state": 0},
        "model_view": {"id": 8, "request": request, "request_hash": hash_, "response": response, "status": status,
                       "processed_time": 8, "job_name": job_name, "attempts": 8, "updated_at": 8},
        FIXED: {"requests": {SPARSE_SCHEMA: sparse["total"]}, "staging": {SPARSE_SCHEMA: sparse["total"]}},
    }  # fmt: skip


# -- report ----------------------------------------------------------------------------------------------------------
def human(n: float) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n / 1024:,.1f} KiB"


def is_model_sql(p: Priced) -> bool:
    return any(kind_of(t) == "source" for t in p.reads)


def report(runs: dict[str, list[Priced]], sizes: dict[str, dict[str, float]]) -> bool:
    ok = True
    row_bytes = sum(sizes["requests"].values()) + sum(sizes["responses"].values())
    hash_bytes = sizes["requests"]["request_hash"] + sizes["responses"]["request_hash"]
    per_row = {k: round(sum(v.values())) for k, v in sizes.items() if k != FIXED}
    print("\nbytes per row measured:", json.dumps(per_row), "; bytes whatever the rows:", json.dumps(sizes.get(FIXED)))
    for run, priced in runs.items():
        print(f"\n## {run}: {len(priced)} statements ({sum(p.free for p in priced)} free)")
        header = f"{'statement':<112} " + " ".join(f"{f'C={c:,}':>14}" for c in SCALES)
        print(header)
        totals = {c: 0.0 for c in SCALES}
        model = {c: 0.0 for c in SCALES}
        for p in priced:
            if p.free:
                continue
            figures = []
            for c in SCALES:
                scale = _scale(run, c)
                b = p.bytes(scale, sizes)
                if is_model_sql(p):  # the model's own SQL apart; what the same statement reads of the cache is ours
                    own = p.bytes(scale, sizes, source=True)
                    model[c] += own
                    totals[c] += b - own
                else:
                    totals[c] += b
                figures.append(f"{human(b):>14}")
            tag = ("[model SQL] " if is_model_sql(p) else "") + ("[per job] " if p.per_job else "")
            tag += "[all columns: unparsed] " if p.conservative else ""
            tag += "[DML: +target] " if p.target else ""
            print(f"{(tag + p.label)[:112]:<112} " + " ".join(figures))
        print(f"{'total (package)':<112} " + " ".join(f"{human(totals[c]):>14}" for c in SCALES))
        print(f"{'USD (package)':<112} " + " ".join(f"{totals[c] / TIB * USD_PER_TIB:>14.2f}" for c in SCALES))
        print(f"{'the model own SQL (not counted)':<112} " + " ".join(f"{human(model[c]):>14}" for c in SCALES))
        whole = [p for p in priced if not p.free and p.bills_whole_cache(sizes)]
        scale = _scale(run, TARGET_SCALE)
        billed = totals[TARGET_SCALE]
        if run == "unchanged":
            target = UNCHANGED_TARGET
            what = "<= 2 GB"
        elif run == "plus_1pct":
            target = 3 * scale.changed * row_bytes + scale.cache * hash_bytes
            what = "<= 3x changed rows + hash columns"
        else:
            target = 3 * scale.changed * row_bytes
            what = "<= 3x the N rows' requests and answers"
        verdict = billed <= target and not whole
        ok &= verdict
        print(
            f"{'PASS' if verdict else 'MISS'} {run} at C={TARGET_SCALE:,}: {billed / GB:,.2f} GB billed, target {what} "
            f"= {target / GB:,.2f} GB; statements billing the whole cache: {len(whole)}"
        )
        for p in whole:
            print(f"    whole cache: {p.label}")
    return ok


def _scale(run: str, cache: int) -> Scale:
    """A first run of N rows starts from an empty cache that fills as its jobs are merged: read at N/2 on average."""
    changed = {"first": cache, "unchanged": 0, "plus_1pct": cache // 100}[run]
    return Scale(cache, changed, cache // 2 if run == "first" else None)


# -- the benchmark ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (project, logs)")
    parser.add_argument("--show-sql", action="store_true", help="print every statement captured")
    parser.add_argument("--save", type=Path, help="write the statements captured and the sizes measured here (JSON)")
    parser.add_argument("--load", type=Path, help="price statements saved by --save instead of running the stack")
    args = parser.parse_args(argv)
    if args.load:
        saved = json.loads(args.load.read_text())
        return price_and_report(saved["runs"], saved["sizes"], args.show_sql)
    tmp = Path(tempfile.mkdtemp(prefix="gemini-batch-bill-model-"))
    try:
        stack = LocalStack(StackConfig.on_free_ports(tmp / "stack"))
        info = stack.up()
        capture = Capture()
        try:
            with CountingProxy(info.bigquery_endpoint, inspect_request=capture.on_request) as proxy:
                runs = run_all(info, proxy, capture, tmp / "project", args.rows)
                client = local_bigquery_client(info.bigquery_endpoint, info.project)
                sizes = measure(client, f"{info.project}.{DATASET}")
        finally:
            stack.down()
        if args.save:
            args.save.write_text(json.dumps({"runs": runs, "sizes": sizes}, indent=1))
        return price_and_report(runs, sizes, args.show_sql)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def price_and_report(runs: dict[str, list[str]], sizes: dict[str, dict[str, float]], show_sql: bool) -> int:
    columns_of = {kind: list(cols) for kind, cols in sizes.items() if kind != FIXED}
    for kind, fixed in sizes.get(FIXED, {}).items():
        columns_of[kind] = columns_of.get(kind, []) + list(fixed)
    priced = {run: [analyse(sql, columns_of) for sql in sqls] for run, sqls in runs.items()}
    if show_sql:
        for run, sqls in runs.items():
            print(f"\n# {run}")
            for sql in sqls:
                print("---\n" + sql.strip())
    return 0 if report(priced, sizes) else 1


def run_all(info: object, proxy: CountingProxy, capture: Capture, project: Path, rows: int) -> dict[str, list[str]]:
    repo = repo_root()
    write_project(project, repo, rows)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        **info.env(),  # type: ignore[attr-defined]
        "GEMINI_BATCH_BQ_PORT": str(proxy.port),
        "GEMINI_BATCH_DATASET": DATASET,
        "GEMINI_BATCH_TARGET": "local",
    }
    common = ["--profiles-dir", str(project)]
    run_checked([str(bin_dir / "dbt"), "deps", *common], project, env)
    runs: dict[str, list[str]] = {}
    for name, n in (("first", rows), ("unchanged", rows), ("plus_1pct", rows + max(1, rows // 100))):
        (project / "models" / f"{MODEL}.sql").write_text(model_sql(n))
        result = run_checked([str(bin_dir / "dbt-gemini-batch"), "run", *common], project, env)
        runs[name] = capture.between(result.started, result.ended)
    return runs


if __name__ == "__main__":
    sys.exit(main())
