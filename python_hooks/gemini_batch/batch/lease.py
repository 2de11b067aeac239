"""Leases: at most one submitter and one collector per answer cache (m__responses) at a time, across processes and
machines, fenced so that a holder that lost its lease (paused past its lifetime, a clock off by minutes) notices before
it creates a job or merges answers.

A lease is a small empty table in the ledger's dataset, one per (answer cache, purpose), whose labels say who holds it
(`owner`, unique per acquisition), its generation (the fencing token) and until when. Why it is safe on real BigQuery,
without transactions:
- acquire = tables.insert of that table. BigQuery creates a table id once: every other concurrent insert gets 409
  Already Exists (cloud.google.com/bigquery/docs/reference/rest/v2/tables/insert), so of two runs started together
  exactly one holds the lease. An insert that landed but whose answer was lost is retried by the client and meets
  409: the table then carries our own owner id, so it is ours, without waiting;
- expiry is judged on BigQuery's clock, never the local one: `expires` (label, epoch seconds) is BigQuery's
  CURRENT_TIMESTAMP() plus TTL_SECONDS, and another run compares it with BigQuery's time too, so a machine whose clock
  is minutes off neither takes a live lease nor keeps a dead one. Each process reads BigQuery's time once and follows
  it on its own monotonic clock (CLOCK_BOOTTIME where there is one: it also counts a suspended laptop);
- a lease whose holder died expires; taking it over is tables.patch with the etag just read as If-Match, raising the
  generation. google-cloud-bigquery's Client.update_table sends `If-Match: <etag>` when the Table carries one, and
  BigQuery answers 412 Precondition Failed when the table changed since, so of two runs that both saw it expired
  exactly one takes it over (the local BigQuery honours If-Match the same way: gemini_batch.local.bqemulator_if_match);
- the holder renews it (the same etag-guarded patch) every RENEW_SECONDS from a daemon thread. Its own deadline is
  the expiry it wrote, followed on its monotonic clock, less CLOCK_ALLOWANCE_SECONDS: nobody can take the lease over
  before that deadline, whatever the machines' clocks say;
- fencing: before each job is created and each merge, the step calls `prove(lease)`: the lease must not be lost, its
  table must still carry our owner and generation, and the monotonic deadline must be at least PROVE_MARGIN_SECONDS
  away (else it is renewed first, which proves it on BigQuery). A holder paused past its lease (SIGSTOP, a VM
  migration, a long GC pause) fails this and raises LeaseLost: the run stops submitting and merging for that answer
  cache and exits non-zero. The generation is recorded in every ledger event and job label it writes;
- release = delete, only while the lease is certainly still ours (well before its deadline): after that it may have
  been taken over, and then it is left to its new holder.

API for the steps (submit.py, collect.py):
    with held(ctx, node, SUBMIT) as lease: ... prove(ctx, lease) ... # waits up to WAIT_SECONDS, else LeaseBusy
flight.Flights plans and submits under the submit lease and attaches to jobs another run submitted meanwhile instead of
sending their rows again; collect.py merges under the collect lease.
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
ENV_LEASE_SECONDS = "GEMINI_BATCH_LEASE_SECONDS"
DEFAULT_TTL_SECONDS = 180


def ttl_from_env(env: dict[str, str] | None = None) -> int:
    """The lease lifetime: GEMINI_BATCH_LEASE_SECONDS (whole seconds, at least 10), default 180. Shorter makes a dead
    run's lease free sooner (the soak and tests use it); every renewal is a table patch, so not below what BigQuery's
    5 metadata updates per table per 10 s allow."""
    raw = (os.environ if env is None else env).get(ENV_LEASE_SECONDS, "").strip()
    if not raw:
        return DEFAULT_TTL_SECONDS
    if not raw.isdigit() or int(raw) < 10:
        raise BatchError(f"{ENV_LEASE_SECONDS}={raw!r} must be a whole number of seconds, at least 10")
    return int(raw)


try:
    TTL_SECONDS = ttl_from_env()  # a dead holder blocks others this long at most
    _ENV_PROBLEM = ""
except BatchError as _exc:
    TTL_SECONDS, _ENV_PROBLEM = DEFAULT_TTL_SECONDS, str(_exc)  # said by acquire(), before any lease is taken
RENEW_SECONDS = TTL_SECONDS / 4  # the holder renews well within the TTL
PROVE_MARGIN_SECONDS = TTL_SECONDS / 3  # prove() renews first when the lease has less than this left
WAIT_SECONDS = 1800.0  # how long a run waits for a busy lease before it gives up (submit: minutes; collect: a merge)
POLL_SECONDS = 2.0
RELEASE_MARGIN_SECONDS = TTL_SECONDS / 6  # delete on release only when the lease has at least this long left
SERVER_CLOCK_SECONDS = 600.0  # BigQuery's time is read again after this long (monotonic)
# How far this process's reading of BigQuery's time (and another run's) may be off: the holder's deadline is this much
# before the expiry another run judges by. A reading whose query took longer than twice this is taken again.
CLOCK_ALLOWANCE_SECONDS = 5.0
# A lease table is kept after release only by a crash: BigQuery drops it after this long.
TABLE_EXPIRATION = dt.timedelta(days=1)
OWNER_LABEL = "gemini_batch_lease_owner"
EXPIRES_LABEL = "gemini_batch_lease_expires"
GENERATION_LABEL = "gemini_batch_lease_generation"
# One id per process; each acquisition adds its own (threads of one process serve different models).
PROCESS_OWNER = uuid.uuid4().hex[:16]


def _boot_clock() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


# The holder's deadline: monotonic, and counting a suspended machine where the OS can (Linux CLOCK_BOOTTIME).
CLOCK: Callable[[], float] = _boot_clock if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic


class LeaseBusy(BatchError):
    """Another run holds the lease and did not release it within the wait."""


class LeaseLost(BatchError):
    """This run no longer holds its lease (taken over after it was paused past its lifetime, or removed)."""


@dataclass
class Lease:
    table: str
    owner: str
    purpose: str
    resource: str
    node_name: str
    generation: int  # the fencing token: raised by every takeover, BigQuery's time in ms at a fresh acquisition
    expires: int  # BigQuery's epoch seconds, as written in the label
    deadline: float  # CLOCK() value until which nobody else can hold it (ServerClock.deadline of `expires`)
    lost: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def token(self) -> str:
        """What ledger events and job labels record: the generation (digits, a valid label value)."""
        return str(self.generation)


def lease_table(ledger_dataset: str, resource: str, purpose: str) -> str:
    """The lease's table id: one per answer cache and purpose, in the ledger's dataset (shared by every target)."""
    digest = hashlib.sha256(resource.encode()).hexdigest()[:32]
    return check_table_id(f"{ledger_dataset}.gemini_batch_lease_{purpose}_{digest}", "a lease table")


class ServerClock:
    """BigQuery's time (CURRENT_TIMESTAMP()), read once and then followed on CLOCK; read again now and then."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._readings: dict[int, tuple[float, float]] = {}  # id(client) -> (BigQuery epoch seconds, CLOCK())

    def now(self, bq: bigquery.Client) -> float:
        with self._lock:
            reading = self._readings.get(id(bq))
        if reading is None or CLOCK() - reading[1] > SERVER_CLOCK_SECONDS:
            best: tuple[float, float, float] | None = None  # (round trip, BigQuery's time, CLOCK() then)
            for _ in range(3):
                before = CLOCK()
                rows = list(bq.query("select current_timestamp() as now", timeout=60).result(timeout=60))
                after = CLOCK()
                server = rows[0]["now"]
                if server.tzinfo is None:
                    server = server.replace(tzinfo=dt.UTC)
                if best is None or after - before < best[0]:
                    best = (after - before, server.timestamp(), (before + after) / 2)
                if best[0] <= 2 * CLOCK_ALLOWANCE_SECONDS:
                    break
            assert best is not None
            reading = (best[1], best[2])
            with self._lock:
                self._readings[id(bq)] = reading
        return reading[0] + (CLOCK() - reading[1])

    def deadline(self, bq: bigquery.Client, expires: int) -> float:
        """The CLOCK() value until which a lease expiring at `expires` (BigQuery's epoch seconds) is certainly held."""
        return CLOCK() + (expires - self.now(bq)) - CLOCK_ALLOWANCE_SECONDS


SERVER_CLOCK = ServerClock()


def _holder_text(ctx: BatchContext, node: BatchNode, purpose: str) -> str:
    return (
        f"{purpose} lease of {node.responses_table}: host {socket.gethostname()}, pid {os.getpid()}, "
        f"invocation {ctx.invocation_id}"
    )


def _stamp(table: bigquery.Table, owner: str, expires: int, generation: int, holder: str) -> None:
    table.labels = {OWNER_LABEL: owner, EXPIRES_LABEL: str(expires), GENERATION_LABEL: str(generation)}
    table.description = holder
    table.expires = dt.datetime.now(dt.UTC) + TABLE_EXPIRATION


def _label_int(table: bigquery.Table, label: str) -> int:
    value = (table.labels or {}).get(label, "0") or "0"
    return int(value) if value.isdigit() else 0


def try_acquire(
    bq: bigquery.Client, table_id: str, owner: str, holder: str
) -> tuple[tuple[int, int, float] | None, str]:
    """((generation, expires, deadline), '') when the lease is now ours; (None, who holds it) otherwise. One attempt,
    no waiting."""
    server_now = SERVER_CLOCK.now(bq)
    expires = int(server_now) + TTL_SECONDS
    generation = int(server_now * 1000)
    table = bigquery.Table(table_id, schema=[bigquery.SchemaField("owner", "STRING")])
    _stamp(table, owner, expires, generation, holder)
    try:
        bq.create_table(table, timeout=60)
        return (generation, expires, SERVER_CLOCK.deadline(bq, expires)), ""
    except gexc.Conflict:
        pass
    try:
        current = bq.get_table(table_id, timeout=60)
    except gexc.NotFound:
        return None, "a holder that just released it"  # released in between: the next attempt creates it
    if (current.labels or {}).get(OWNER_LABEL) == owner:
        # our own insert landed and its answer was lost; the client's retry met it (409)
        expires = _label_int(current, EXPIRES_LABEL)
        return (_label_int(current, GENERATION_LABEL), expires, SERVER_CLOCK.deadline(bq, expires)), ""
    if _label_int(current, EXPIRES_LABEL) > server_now:
        return None, current.description or (current.labels or {}).get(OWNER_LABEL, "another run")
    # Expired on BigQuery's clock: take it over, guarded by the etag just read (If-Match), so one of several takers
    # wins; the generation rises, so every earlier holder's token is stale.
    generation = max(_label_int(current, GENERATION_LABEL) + 1, generation)
    _stamp(current, owner, expires, generation, holder)
    try:
        bq.update_table(current, ["labels", "description", "expires"], timeout=60)
    except (gexc.PreconditionFailed, gexc.NotFound):
        return None, "a run that took over the expired lease first"
    return (generation, expires, SERVER_CLOCK.deadline(bq, expires)), ""


def _ours(table: bigquery.Table, lease: Lease) -> bool:
    labels = table.labels or {}
    return labels.get(OWNER_LABEL) == lease.owner and labels.get(GENERATION_LABEL) == lease.token


def renew(bq: bigquery.Client, lease: Lease) -> bool:
    """Push the lease's expiry TTL_SECONDS past BigQuery's now, if it is still ours (else mark it lost). Returns
    whether it is held. A patch that landed but whose answer was lost is retried by the client with the old etag and
    meets 412: the table is read again and, still ours, patched again."""
    with lease._lock:
        if lease.lost:
            return False
        for _ in range(3):
            try:
                current = bq.get_table(lease.table, timeout=30)
                if not _ours(current, lease):
                    lease.lost = True
                    return False
                expires = int(SERVER_CLOCK.now(bq)) + TTL_SECONDS
                labels = dict(current.labels)
                labels[EXPIRES_LABEL] = str(expires)
                current.labels = labels
                bq.update_table(current, ["labels"], timeout=30)
            except gexc.PreconditionFailed:
                continue  # changed since read: by us (a retried patch) or by a taker; read again
            except gexc.NotFound:
                lease.lost = True
                return False
            lease.expires, lease.deadline = expires, SERVER_CLOCK.deadline(bq, expires)
            return True
        return False


def _renew_loop(bq: bigquery.Client, lease: Lease) -> None:
    while not lease._stop.wait(RENEW_SECONDS):
        try:
            if not renew(bq, lease) and lease.lost:
                return
        except Exception:  # noqa: S112 - transient: the next renewal tries again well before expiry
            continue


def lost_message(lease: Lease, doing: str) -> str:
    return (
        f"{lease.node_name}: this run lost the {lease.purpose} lease of {lease.resource} (generation {lease.token}: "
        f"it was paused or cut off past the lease's {TTL_SECONDS} s and another run took over), so it stopped "
        f"before {doing}; what it created is in the ledger and is finished by the run holding the lease"
    )


def prove(ctx: BatchContext, lease: Lease, doing: str) -> None:
    """Raise LeaseLost unless this run certainly still holds `lease` (see the module docstring: fencing)."""
    with contextlib.suppress(gexc.GoogleAPICallError, OSError):  # transient: then the deadline alone decides
        if not lease.lost and lease.deadline - CLOCK() < PROVE_MARGIN_SECONDS:
            renew(ctx.bq, lease)  # close to (or past) the deadline: only a renewal on BigQuery proves it
        if not lease.lost:
            try:
                if not _ours(ctx.bq.get_table(lease.table, timeout=30), lease):
                    lease.lost = True
            except gexc.NotFound:
                lease.lost = True
    if lease.lost or lease.deadline <= CLOCK():
        lease.lost = True
        raise LeaseLost(lost_message(lease, doing))


def acquire(
    ctx: BatchContext,
    node: BatchNode,
    purpose: str,
    wait_seconds: float = WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Lease:
    """Hold the `purpose` lease of the node's answer cache; wait while another run holds it, up to wait_seconds."""
    if _ENV_PROBLEM:
        raise BatchError(_ENV_PROBLEM)
    table_id = lease_table(ctx.ledger.dataset, node.responses_table, purpose)
    owner = f"{PROCESS_OWNER}-{uuid.uuid4().hex[:16]}"  # this acquisition's: a retried insert recognises it
    holder = _holder_text(ctx, node, purpose)
    deadline = time.monotonic() + wait_seconds
    said = False
    while True:
        got, other = try_acquire(ctx.bq, table_id, owner, holder)
        if got is not None:
            generation, expires, held_until = got
            lease = Lease(table_id, owner, purpose, node.responses_table, node.name, generation, expires, held_until)
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
    with lease._lock:
        if lease.lost or lease.deadline - CLOCK() < RELEASE_MARGIN_SECONDS:
            return
        with contextlib.suppress(gexc.NotFound):
            if _ours(ctx.bq.get_table(lease.table, timeout=60), lease):
                ctx.bq.delete_table(lease.table, not_found_ok=True, timeout=60)


@contextlib.contextmanager
def held(ctx: BatchContext, node: BatchNode, purpose: str, wait_seconds: float = WAIT_SECONDS) -> Iterator[Lease]:
    lease = acquire(ctx, node, purpose, wait_seconds)
    try:
        yield lease
    finally:
        release(ctx, lease)
