"""The local BigQuery behaves as BigQuery where the hook's leases depend on it: a stale `If-Match` on tables.patch is
refused with 412, a client stalled mid-request stalls only itself, and an answer can be lost after the call took
effect (fault rules), all through google-cloud-bigquery."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from google.api_core import exceptions as gexc
from google.cloud import bigquery

from gemini_batch.local.clients import local_bigquery_client
from gemini_batch.local.stack import StackInfo
from tests.conftest import LOCATION
from tests.integration.demo_project import set_bigquery_faults

pytestmark = pytest.mark.integration


@pytest.fixture()
def no_faults(local_stack: StackInfo) -> Iterator[None]:
    yield
    set_bigquery_faults(local_stack.bigquery_endpoint, [])


def _fresh(client: bigquery.Client, table_id: str) -> bigquery.Table:
    return client.get_table(table_id)


def test_patch_with_a_stale_etag_is_refused_with_412(bq_client: bigquery.Client, dataset: str) -> None:
    table_id = f"{bq_client.project}.{dataset}.guarded"
    bq_client.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField("x", "STRING")]))
    first = _fresh(bq_client, table_id)
    second = _fresh(bq_client, table_id)  # another reader saw the same version
    first.labels = {"owner": "a"}
    patched = bq_client.update_table(first, ["labels"])
    assert patched.etag != second.etag
    second.labels = {"owner": "b"}
    with pytest.raises(gexc.PreconditionFailed):
        bq_client.update_table(second, ["labels"])
    assert _fresh(bq_client, table_id).labels == {"owner": "a"}
    # a patch with the current etag, or without one, applies
    current = _fresh(bq_client, table_id)
    current.labels = {"owner": "c"}
    bq_client.update_table(current, ["labels"])
    unguarded = bigquery.Table(table_id)
    unguarded.description = "no etag"
    bq_client.update_table(unguarded, ["description"])
    assert (_fresh(bq_client, table_id).labels, _fresh(bq_client, table_id).description) == ({"owner": "c"}, "no etag")


def test_a_client_stalled_mid_upload_stalls_only_itself(local_stack: StackInfo) -> None:
    url = urlsplit(local_stack.bigquery_endpoint)
    path = f"/bigquery/v2/projects/{local_stack.project}/queries"
    stalled = socket.create_connection((url.hostname, url.port), timeout=30)
    try:
        # headers and a tenth of the body, then nothing: a run frozen (SIGSTOP) halfway through sending a request
        stalled.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n".encode()
            + b'{"query": '
        )
        time.sleep(0.5)
        client = local_bigquery_client(local_stack.bigquery_endpoint, local_stack.project, LOCATION)
        started = time.monotonic()
        rows = list(client.query("select 41 + 1 as n", timeout=20).result(timeout=20))
        assert rows[0]["n"] == 42
        assert time.monotonic() - started < 15
    finally:
        stalled.close()


def test_a_client_not_reading_its_answer_stalls_only_itself(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str
) -> None:
    table_id = f"{bq_client.project}.{dataset}.wide"
    # ~24 MB of rows: more than the loopback socket buffers hold, so the server cannot finish writing the page
    bq_client.query(
        f"create table `{table_id}` as select x, repeat('a', 1200) as pad from unnest(generate_array(1, 20000)) as x"
    ).result()
    url = urlsplit(local_stack.bigquery_endpoint)
    path = f"/bigquery/v2/projects/{local_stack.project}/datasets/{dataset}/tables/wide/data?maxResults=20000"
    stalled = socket.create_connection((url.hostname, url.port), timeout=30)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        stalled.sendall(f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
        stalled.recv(1024)  # the answer has started; the rest is never read (a reader frozen by SIGSTOP)
        time.sleep(1.0)
        client = local_bigquery_client(local_stack.bigquery_endpoint, local_stack.project, LOCATION)
        started = time.monotonic()
        rows = list(client.query(f"select count(*) as n from `{table_id}`", timeout=20).result(timeout=20))
        assert rows[0]["n"] == 20000
        assert time.monotonic() - started < 15
    finally:
        stalled.close()


@pytest.mark.usefixtures("no_faults")
def test_a_lost_answer_after_commit_is_retried_by_the_client(
    local_stack: StackInfo, bq_client: bigquery.Client, dataset: str
) -> None:
    set_bigquery_faults(
        local_stack.bigquery_endpoint,
        [{"method": "POST", "path": "/tables$", "body_contains": "lost_once", "times": 1}],
    )
    table_id = f"{bq_client.project}.{dataset}.lost_once"
    # the insert lands, its answer is lost, the client's retry meets the table it made: 409
    with pytest.raises(gexc.Conflict):
        bq_client.create_table(bigquery.Table(table_id, schema=[bigquery.SchemaField("x", "STRING")]))
    assert bq_client.get_table(table_id).table_id == "lost_once"
    rules = set_bigquery_faults(local_stack.bigquery_endpoint, [])
    assert rules == []
