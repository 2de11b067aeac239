"""One request at a time into bqemulator's DuckDB connection, so concurrent clients never get each other's results.

Why: bqemulator (1.4) runs every statement on ONE `duckdb.DuckDBPyConnection` (bqemulator/storage/engine.py,
`DuckDBEngine.execute` returns the connection itself) and reads a statement's rows from that connection afterwards
(`fetch_arrow` = `execute(...)` then `to_arrow_table()`; tabledata.list = a page query, then `execute("SELECT COUNT(*)")
.fetchone()`). A DuckDB connection keeps only its latest result, so a statement run by another request in between
replaces it: the first request then reads the other one's rows, or none (`fetchone()` -> None -> IndexError).
Requests do run in between: FastAPI runs bqemulator's sync endpoints (tabledata.list, getQueryResults, tables.get,
/readyz ...) in a thread pool while its async ones (jobs.query, jobs.insert, insertAll) run on the event loop; the
Storage Read/Write API's unary calls run on the loop, its streams (ReadRows, AppendRows) in grpc's thread pool. Its only
lock (`DuckDBEngine.write_lock`) is taken by some writers, never by readers.

What: every REST request (but the DuckDB-free /healthz liveness probe), every Storage Read/Write API call step, and the
snapshot GC loop hold one asyncio.Lock of the server's event loop while they run. A REST request holds it only while
bqemulator handles it: its body is read in full before, and its response is sent after the lock is released, so a
client stalled mid-request (a SIGSTOPped run halfway through an upload, or not reading a large page) stalls only itself,
never every other client. DuckDB executes one statement per
connection at a time anyway, so this costs little throughput; it also keeps bqemulator's in-process dictionaries (the
catalog, stored query results) consistent. Per-request cursors would not do: a cursor is a new DuckDB connection without
the session's settings (TimeZone), temporary objects and registered Python UDFs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]

# Answers without touching DuckDB, so `local status` can tell "alive but busy" from "dead" during a long query.
UNGATED_PATHS = frozenset({"/healthz"})


class Gate:
    """An asyncio.Lock of the server's loop, usable from the loop (REST) and from worker threads (gRPC handlers)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock: asyncio.Lock | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lock = asyncio.Lock()

    def bound(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Lock]:
        if self.loop is None or self.lock is None:
            raise RuntimeError("bigquery gate used before the server's event loop started")
        return self.loop, self.lock

    def acquire_from_thread(self) -> None:
        loop, lock = self.bound()
        # Blocking the loop's own thread here would deadlock; gRPC sync handlers run in executor threads.
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:
                raise AssertionError("acquire_from_thread called on the event loop")
        asyncio.run_coroutine_threadsafe(lock.acquire(), loop).result()

    def release_from_thread(self) -> None:
        loop, lock = self.bound()
        loop.call_soon_threadsafe(lock.release)

    @contextlib.contextmanager
    def held_by_thread(self) -> Iterator[None]:
        self.acquire_from_thread()
        try:
            yield
        finally:
            self.release_from_thread()


GATE = Gate()


async def read_body(receive: Any) -> list[dict[str, Any]]:
    """Every `http.request` message of the request (the whole body), or up to an `http.disconnect`."""
    messages: list[dict[str, Any]] = []
    while True:
        message = await receive()
        messages.append(message)
        if message.get("type") != "http.request" or not message.get("more_body", False):
            return messages


def replaying(messages: list[dict[str, Any]], receive: Any) -> Any:
    """A `receive` that hands out the messages already read, then waits on the client's own (for a disconnect)."""
    pending = list(messages)

    async def replay() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class GatedASGI:
    """ASGI wrapper: bqemulator's handling of a request runs under the gate, also sync endpoints that FastAPI sends to
    its thread pool, because the handler only ends after they return. The body is read before the gate is taken and the
    response (buffered) written after it is released: the client's pace never holds the gate."""

    def __init__(self, app: ASGIApp, gate: Gate = GATE) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("path") in UNGATED_PATHS:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body and body[-1].get("type") == "http.disconnect":
            return  # the client went away mid-request: nothing to run
        sent: list[dict[str, Any]] = []

        async def buffer(message: dict[str, Any]) -> None:
            sent.append(message)

        _, lock = self.gate.bound()
        async with lock:
            await self.app(scope, replaying(body, receive), buffer)
        for message in sent:
            await send(message)


def _gated_unary(fn: Callable[..., Any], gate: Gate) -> Callable[..., Any]:
    # An async handler: bqemulator's DomainErrorTranslationInterceptor (bqemulator/grpc_api/interceptors.py) turns
    # every unary-unary handler into a coroutine that calls the sync one on the event loop, and awaits what it returns.
    async def call(request: Any, context: Any) -> Any:
        async with gate.bound()[1]:
            return fn(request, context)

    return call


def _gated_stream_unary(fn: Callable[..., Any], gate: Gate) -> Callable[..., Any]:
    def call(requests: Any, context: Any) -> Any:
        with gate.held_by_thread():
            return fn(_ungated_requests(requests, gate), context)

    return call


def _gated_responses(responses: Iterator[Any], gate: Gate) -> Iterator[Any]:
    """Each step of a response stream runs under the gate; the gate is free while the client reads what was sent."""
    while True:
        with gate.held_by_thread():
            try:
                item = next(responses)
            except StopIteration:
                return
        yield item


def _ungated_requests(requests: Iterator[Any], gate: Gate) -> Iterator[Any]:
    """A client stream read inside a gated step: free the gate while waiting for the client's next message, so an idle
    AppendRows stream does not stall every other client."""
    while True:
        gate.release_from_thread()
        try:
            item = next(requests, StopIteration)
        finally:
            gate.acquire_from_thread()
        if item is StopIteration:
            return
        yield item


def gate_rpc_handler(handler: Any, gate: Gate = GATE) -> Any:
    """Wrap a sync grpc.RpcMethodHandler (bqemulator's Storage Read/Write API) so its work runs under the gate."""
    if handler is None:
        return None
    if handler.unary_unary is not None:
        return handler._replace(unary_unary=_gated_unary(handler.unary_unary, gate))
    if handler.stream_unary is not None:
        return handler._replace(stream_unary=_gated_stream_unary(handler.stream_unary, gate))
    if handler.unary_stream is not None:
        fn = handler.unary_stream
        return handler._replace(unary_stream=lambda request, ctx: _gated_responses(fn(request, ctx), gate))
    fn = handler.stream_stream
    return handler._replace(
        stream_stream=lambda requests, ctx: _gated_responses(fn(_ungated_requests(requests, gate), ctx), gate)
    )


def install(gate: Gate = GATE) -> None:
    """Patch bqemulator (before its server starts) so REST, gRPC and the snapshot GC go through `gate`."""
    from bqemulator import server
    from bqemulator.grpc_api.read_servicer import BigQueryReadHandler
    from bqemulator.grpc_api.write_servicer import BigQueryWriteHandler
    from bqemulator.versioning.snapshots import SnapshotManager

    if getattr(server, "_gemini_batch_gated", False):
        return
    server._gemini_batch_gated = True  # type: ignore[attr-defined]

    original_start = server.EmulatorServer.start

    async def start(self: server.EmulatorServer) -> None:
        gate.bind(asyncio.get_running_loop())
        await original_start(self)

    server.EmulatorServer.start = start  # type: ignore[method-assign]

    create_app = server.create_app
    server.create_app = lambda context: GatedASGI(create_app(context), gate)  # type: ignore[assignment,return-value]

    # Without a `migration_thread_pool`, grpc.aio runs sync handlers (all of bqemulator's) on the event loop thread,
    # where waiting for the gate would deadlock; with one, they run in its threads, which can wait for the gate.
    # bqemulator's gRPC server is the only one in this process (bqemulator/grpc_api/server.py: grpc.aio.server(...)).
    import grpc.aio

    aio_server = grpc.aio.server
    pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bqemulator-grpc")
    grpc.aio.server = functools.partial(aio_server, migration_thread_pool=pool)

    for handler_class in (BigQueryReadHandler, BigQueryWriteHandler):
        service = handler_class.service

        def gated_service(self: Any, details: Any, _service: Any = service) -> Any:
            return gate_rpc_handler(_service(self, details), gate)

        handler_class.service = gated_service  # type: ignore[method-assign,assignment]

    async def run_gc_loop(self: SnapshotManager, *, interval_seconds: float) -> None:
        # the original loop (bqemulator/versioning/snapshots.py) purges on the event loop between requests' thread work
        while True:
            try:
                async with gate.bound()[1]:
                    self.purge_expired()
            except Exception:  # noqa: S110 - as the original: the GC must never die
                pass
            await asyncio.sleep(interval_seconds)

    SnapshotManager.run_gc_loop = run_gc_loop  # type: ignore[method-assign]
