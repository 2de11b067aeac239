"""Leases: at most one submitter and one collector per answer cache (m__responses) at a time, across processes and
machines.

A lease is a small empty table in the ledger's dataset, one per (answer cache, purpose), whose labels say who holds it
and until when. Why it is safe on real BigQuery, without transactions:
- acquire = tables.insert of that table. BigQuery creates a table id once: every other concurrent insert gets 409
  Already Exists (cloud.google.com/bigquery/docs/reference/rest/v2/tables/insert), so of two runs started together
  exactly one holds the lease;
- a lease whose holder died expires (labels: `expires` epoch seconds); taking it over is tables.patch with the etag
  just read as If-Match. google-cloud-bigquery's Client.update_table sends `If-Match: <etag>` when the Table carries
  one, and BigQuery answers 412 Precondition Failed when the table changed since, so of two runs that both saw it
  expired exactly one takes it over;
- the holder renews it (the same etag-guarded patch) every RENEW_SECONDS from a daemon thread; a run killed while
  holding it blocks others for at most TTL_SECONDS;
- release = delete, only while the lease is certainly still ours (well before its expiry): after that it may have
  been taken over, and then it is left to its new holder.
The local BigQuery (bqemulator) refuses a second create of a table id as BigQuery does; whether it honours If-Match
on patch only real BigQuery can confirm.

API for the steps (submit.py, collect.py):
    lease = acquire(ctx, node, SUBMIT)   # waits up to WAIT_SECONDS, then raises LeaseBusy naming the holder
    try: ... finally: release(ctx, lease)
or `with held(ctx, node, SUBMIT): ...`. flight.Flights plans and submits under the submit lease and attaches to jobs
another run submitted meanwhile instead of sending their rows again; collect.py merges under the collect lease.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from gemini_batch.batch.common import BatchError
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.identifiers import check_table_id

SUBMIT = "submit"
COLLECT = "collect"
_DOING = {SUBMIT: "submitting", COLLECT: "collecting"}
TTL_SECONDS = 180  # a dead holder blocks others this long at most
RENEW_SECONDS = 45  # the holder renews well within the TTL
WAIT_SECONDS = 1800.0  # how long a run waits for a busy lease before it gives up (submit: minutes; collect: a merge)
POLL_SECONDS = 2.0
RELEASE_MARGIN_SECONDS = 30  # delete on release only when the lease has at least this long left
# A lease table is kept after release only by a crash: BigQuery drops it after this long.
TABLE_EXPIRATION = dt.timedelta(days=1)
OWNER_LABEL = "gemini_batch_lease_owner"
EXPIRES_LABEL = "gemini_batch_lease_expires"
# One owner id per process; threads of one process serve different models, so their leases differ anyway.
PROCESS_OWNER = uuid.uuid4().hex


class LeaseBusy(BatchError):
    """Another run holds the lease and did not release it within the wait."""


@dataclass
class Lease:
    table: str
    owner: str
    purpose: str
    resource: str
    expires: int  # epoch seconds
    lost: bool = False  # a renewal found it taken over (we overran the TTL without renewing)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)


def lease_table(ledger_dataset: str, resource: str, purpose: str) -> str:
    """The lease's table id: one per answer cache and purpose, in the ledger's dataset (shared by every target)."""
    digest = hashlib.sha256(resource.encode()).hexdigest()[:32]
    return check_table_id(f"{ledger_dataset}.gemini_batch_lease_{purpose}_{digest}", "a lease table")


def _now() -> int:
    return int(time.time())


def _holder_text(ctx: BatchContext, node: BatchNode, purpose: str) -> str:
    return (
        f"{purpose} lease of {node.responses_table}: host {socket.gethostname()}, pid {os.getpid()}, "
        f"invocation {ctx.invocation_id}"
    )


def _stamp(table: bigquery.Table, owner: str, expires: int, holder: str) -> None:
    table.labels = {OWNER_LABEL: owner, EXPIRES_LABEL: str(expires)}
    table.description = holder
    table.expires = dt.datetime.now(dt.UTC) + TABLE_EXPIRATION


def try_acquire(bq: bigquery.Client, table_id: str, owner: str, holder: str) -> tuple[bool, str]:
    """(True, '') when the lease is now ours; (False, who holds it) otherwise. One attempt, no waiting."""
    expires = _now() + TTL_SECONDS
    table = bigquery.Table(table_id, schema=[bigquery.SchemaField("owner", "STRING")])
    _stamp(table, owner, expires, holder)
    try:
        bq.create_table(table, timeout=60)
        return True, ""
    except gexc.Conflict:
        pass
    try:
        current = bq.get_table(table_id, timeout=60)
    except gexc.NotFound:
        return False, "a holder that just released it"  # released in between: the next attempt creates it
    if int(current.labels.get(EXPIRES_LABEL, "0") or 0) > _now():
        return False, current.description or current.labels.get(OWNER_LABEL, "another run")
    # Expired: take it over, guarded by the etag just read (If-Match), so one of several takers wins.
    _stamp(current, owner, expires, holder)
    try:
        bq.update_table(current, ["labels", "description", "expires"], timeout=60)
    except (gexc.PreconditionFailed, gexc.NotFound):
        return False, "a run that took over the expired lease first"
    return True, ""


def _renew_loop(bq: bigquery.Client, lease: Lease) -> None:
    while not lease._stop.wait(RENEW_SECONDS):
        try:
            current = bq.get_table(lease.table, timeout=30)
            if current.labels.get(OWNER_LABEL) != lease.owner:
                lease.lost = True
                return
            lease.expires = _now() + TTL_SECONDS
            labels = dict(current.labels)
            labels[EXPIRES_LABEL] = str(lease.expires)
            current.labels = labels
            bq.update_table(current, ["labels"], timeout=30)
        except (gexc.PreconditionFailed, gexc.NotFound):
            lease.lost = True
            return
        except Exception:  # noqa: S112 - transient: the next renewal tries again well before expiry
            continue


def acquire(
    ctx: BatchContext,
    node: BatchNode,
    purpose: str,
    wait_seconds: float = WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Lease:
    """Hold the `purpose` lease of the node's answer cache; wait while another run holds it, up to wait_seconds."""
    table_id = lease_table(ctx.ledger.dataset, node.responses_table, purpose)
    owner = f"{PROCESS_OWNER}-{threading.get_ident() % 10**8}"
    holder = _holder_text(ctx, node, purpose)
    deadline = time.monotonic() + wait_seconds
    said = False
    while True:
        ok, other = try_acquire(ctx.bq, table_id, owner, holder)
        if ok:
            lease = Lease(table_id, owner, purpose, node.responses_table, _now() + TTL_SECONDS)
            lease._thread = threading.Thread(target=_renew_loop, args=(ctx.bq, lease), daemon=True)
            lease._thread.start()
            return lease
        if time.monotonic() >= deadline:
            raise LeaseBusy(
                f"{node.name}: another run is still {_DOING[purpose]} for {node.responses_table} ({other}) after "
                f"{wait_seconds:.0f} s, so this run skipped it. Run again when that one has finished "
                f"(a dead run's lease expires within {TTL_SECONDS} s)"
            )
        if not said:
            ctx.progress.say(f"{node.name}: waiting: another run holds the {purpose} lease ({other})")
            said = True
        sleep(POLL_SECONDS)


def release(ctx: BatchContext, lease: Lease) -> None:
    """Give the lease back. Deleted only while certainly still ours; otherwise left to expire or to its new holder."""
    lease._stop.set()
    if lease._thread is not None:
        lease._thread.join(timeout=5)
    if lease.lost or lease.expires - _now() < RELEASE_MARGIN_SECONDS:
        return
    with contextlib.suppress(gexc.NotFound):
        if ctx.bq.get_table(lease.table, timeout=60).labels.get(OWNER_LABEL) == lease.owner:
            ctx.bq.delete_table(lease.table, not_found_ok=True, timeout=60)


@contextlib.contextmanager
def held(ctx: BatchContext, node: BatchNode, purpose: str, wait_seconds: float = WAIT_SECONDS) -> Iterator[Lease]:
    lease = acquire(ctx, node, purpose, wait_seconds)
    try:
        yield lease
    finally:
        release(ctx, lease)
