"""The local BigQuery serves each client its own results when clients run at the same time.

bqemulator runs every statement on one shared DuckDB connection and fetches a statement's result from that connection
after executing it; a statement run by another request in between replaced the result (see
gemini_batch.local.bigquery_server). These tests run many distinct queries, table reads, CTAS and DML statements at once
through google-cloud-bigquery and check every single result exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.cloud import bigquery

from gemini_batch.local.clients import local_bigquery_client
from gemini_batch.local.stack import StackInfo
from tests.conftest import LOCATION

pytestmark = pytest.mark.integration

# Distinct sizes: some fit one page, some need several (page sizes below are 400 rows).
SIZES = {"t_small": 3, "t_mid": 350, "t_big": 1700, "t_huge": 4100}
THREADS = 12
ROUNDS = 4


def _expected(table: str) -> list[tuple[int, str]]:
    return [(i, f"{table}-{i}") for i in range(1, SIZES[table] + 1)]


def _client(stack: StackInfo) -> bigquery.Client:
    # one client per task, as independent processes (dbt, the hook, the Vertex emulator) would be
    return local_bigquery_client(stack.bigquery_endpoint, stack.project, LOCATION)


def _create_tables(client: bigquery.Client, ds: str) -> None:
    for table, n in SIZES.items():
        client.query(
            f"create table `{ds}.{table}` as "
            f"select x as id, concat('{table}-', cast(x as string)) as label "
            f"from unnest(generate_array(1, {n})) as x"
        ).result()


def _run_all(tasks: list[Callable[[], None]]) -> None:
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(task) for task in tasks]
        failures = [repr(exc) for f in futures if (exc := f.exception()) is not None]
    assert not failures, f"{len(failures)} of {len(tasks)} concurrent calls got a wrong result: {failures[:5]}"


def test_concurrent_queries_and_table_reads_each_get_their_own_rows(local_stack: StackInfo, dataset: str) -> None:
    _create_tables(_client(local_stack), dataset)

    def query_rows(table: str) -> Callable[[], None]:
        def task() -> None:
            # jobs.query, then getQueryResults pages of 400 rows
            result = _client(local_stack).query(f"select id, label from `{dataset}.{table}` order by id")
            got = [(r["id"], r["label"]) for r in result.result(page_size=400)]
            assert got == _expected(table), f"query of {table}: {len(got)} rows, first {got[:2]}"

        return task

    def aggregate(table: str) -> Callable[[], None]:
        def task() -> None:
            rows = list(
                _client(local_stack)
                .query(f"select count(*) as n, sum(id) as s, min(label) as lo from `{dataset}.{table}`")
                .result()
            )
            n = SIZES[table]
            assert len(rows) == 1, f"count(*) of {table} returned {len(rows)} rows"
            assert (rows[0]["n"], rows[0]["s"]) == (n, n * (n + 1) // 2), f"aggregate of {table}: {dict(rows[0])}"
            assert rows[0]["lo"] == min(label for _, label in _expected(table))

        return task

    def list_rows(table: str) -> Callable[[], None]:
        def task() -> None:
            # tabledata.list, pages of 400 rows
            client = _client(local_stack)
            rows = client.list_rows(f"{client.project}.{dataset}.{table}", page_size=400)
            got = sorted((r["id"], r["label"]) for r in rows)
            assert got == _expected(table), f"tabledata.list of {table}: {len(got)} rows, first {got[:2]}"

        return task

    tasks = [make(table) for _ in range(ROUNDS) for table in SIZES for make in (query_rows, aggregate, list_rows)]
    _run_all(tasks)


def test_concurrent_ctas_and_inserts_write_exactly_their_rows(local_stack: StackInfo, dataset: str) -> None:
    _create_tables(_client(local_stack), dataset)
    client = _client(local_stack)
    targets = [f"ins_{i}" for i in range(THREADS)]
    for name in targets:
        client.query(f"create table `{dataset}.{name}` (id int64, label string)").result()

    def ctas(source: str, factor: int) -> Callable[[], None]:
        def task() -> None:
            name = f"ctas_{source}_{factor}_{uuid.uuid4().hex[:6]}"
            c = _client(local_stack)
            c.query(
                f"create table `{dataset}.{name}` as select id * {factor} as id, label from `{dataset}.{source}`"
            ).result()
            # read back through tabledata.list while the other tasks still write
            got = sorted((r["id"], r["label"]) for r in c.list_rows(f"{c.project}.{dataset}.{name}", page_size=400))
            assert got == [(i * factor, label) for i, label in _expected(source)], f"{name}: {len(got)} rows"

        return task

    def insert(target: str, source: str) -> Callable[[], None]:
        def task() -> None:
            c = _client(local_stack)
            job = c.query(f"insert into `{dataset}.{target}` (id, label) select id, label from `{dataset}.{source}`")
            job.result()
            assert job.num_dml_affected_rows == SIZES[source], f"insert into {target}: {job.num_dml_affected_rows}"

        return task

    sources = list(SIZES)
    tasks: list[Callable[[], None]] = []
    for i, target in enumerate(targets):
        tasks.append(insert(target, sources[i % len(sources)]))
        tasks.append(ctas(sources[(i + 1) % len(sources)], i + 2))
    _run_all(tasks)

    for i, target in enumerate(targets):
        source = sources[i % len(sources)]
        got = sorted((r["id"], r["label"]) for r in client.list_rows(f"{client.project}.{dataset}.{target}"))
        assert got == _expected(source), f"{target} holds {len(got)} rows after inserting {source}"
