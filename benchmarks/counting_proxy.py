"""A small counting HTTP proxy for the benchmarks: sits in front of one loopback emulator and records every call.

Clients are pointed at the proxy's port instead of the emulator's (dbt's profile, the hook's Vertex endpoint, the naive
flow), so API calls are counted without touching the package: the clients cannot tell the difference. Each call is
recorded with its monotonic arrival and finish times (CLOCK_MONOTONIC is system-wide on Linux, so times taken in a
client process line up with these), its method and path, its status, and the few response fields the benchmark reads:
a BigQuery job's id and totalBytesProcessed, a Vertex job's name and state.

Loopback only, bounded: at most `max_connections` client connections are served at once (the accept loop waits for a
free slot), and an idle keep-alive connection is closed after `idle_timeout` seconds so it does not hold its slot.
Bodies are relayed whole (read, then written with a Content-Length): the emulators' responses are pages, not streams.
"""

from __future__ import annotations

import gzip
import http.client
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# RFC 9110 7.6.1: hop-by-hop headers are not forwarded; Content-Length is recomputed for the relayed body.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}
# Only these responses are parsed (job resources, query results); table pages are counted, never decoded.
INSPECT_MAX_BYTES = 2_000_000


@dataclass
class Call:
    """One proxied request."""

    started: float
    ended: float
    method: str
    path: str
    status: int
    fields: dict[str, Any] = field(default_factory=dict)


class CountingProxy:
    """Forward http://127.0.0.1:<port> to `upstream` (an http://127.0.0.1:<port> URL) and record the calls."""

    def __init__(
        self,
        upstream: str,
        max_connections: int = 64,
        idle_timeout: float = 15.0,
        inspect: Callable[[str, str, Any], None] | None = None,
        inspect_request: Callable[[str, str, bytes], None] | None = None,
    ) -> None:
        """`inspect(method, path, payload)` sees each decoded JSON response before the client does (the soak snapshots a
        finished job's tables there, before the client that polled it can drop them); `inspect_request(method, path,
        body)` each request body as sent (the bill model reads every statement's SQL there)."""
        self.inspect = inspect
        self.inspect_request = inspect_request
        target = urlsplit(upstream)
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost") or target.port is None:
            raise ValueError(f"the counting proxy only fronts a loopback http:// service, got {upstream!r}")
        self.upstream_host, self.upstream_port = "127.0.0.1", target.port
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        handler = _handler_class(self, idle_timeout)
        self._server = _BoundedServer(("127.0.0.1", 0), handler, max_connections)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"proxy-{self.port}", daemon=True)

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def calls_between(self, start: float, end: float) -> list[Call]:
        """The calls that arrived in [start, end] (monotonic seconds), in arrival order."""
        with self._lock:
            return sorted((c for c in self._calls if start <= c.started <= end), key=lambda c: c.started)


class _BoundedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()  # at most max_connections handler threads; the next accept waits here
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def _interesting_fields(payload: Any) -> dict[str, Any]:
    """The fields the benchmark reads from a BigQuery job / query response or a Vertex job."""
    if not isinstance(payload, dict):
        return {}
    found: dict[str, Any] = {}
    job_ref = payload.get("jobReference")
    if isinstance(job_ref, dict) and job_ref.get("jobId"):
        found["bq_job_id"] = job_ref["jobId"]
    stats = payload.get("statistics")
    query_stats = stats.get("query") if isinstance(stats, dict) else None
    for source in (payload, stats, query_stats):
        if isinstance(source, dict) and source.get("totalBytesProcessed") is not None:
            found["bytes_processed"] = int(source["totalBytesProcessed"])
    name = payload.get("name")
    if isinstance(name, str) and "/batchPredictionJobs/" in name:
        found["vertex_job"] = name
        if "state" in payload:
            found["vertex_state"] = payload["state"]
    return found


def _handler_class(proxy: CountingProxy, idle_timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = idle_timeout
        # headers and body go out in two writes: with Nagle's algorithm the body waited for the client's delayed ACK,
        # ~40 ms added to every call measured (more to the flow that makes more calls)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the calls are recorded, not logged

        def _upstream(self) -> http.client.HTTPConnection:
            conn: http.client.HTTPConnection | None = getattr(self, "_conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=600)
                self._conn = conn
            return conn

        def _request_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _relay(self) -> None:
            started = time.monotonic()
            body = self._request_body()
            if proxy.inspect_request is not None:
                proxy.inspect_request(self.command, self.path, body)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"127.0.0.1:{proxy.upstream_port}"
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            try:
                conn = self._upstream()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    conn.close()  # a stale keep-alive connection to the emulator: one fresh attempt
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self._conn = None
                self.send_error(502, f"counting proxy: upstream unreachable ({exc.__class__.__name__})")
                proxy.record(Call(started, time.monotonic(), self.command, self.path, 502))
                return
            fields: dict[str, Any] = {}
            content_type = resp.getheader("Content-Type", "")
            if "json" in content_type and len(payload) <= INSPECT_MAX_BYTES:
                try:
                    decoded = json.loads(_decoded(payload, resp.getheader("Content-Encoding", "")))
                except (ValueError, OSError, zlib.error):
                    decoded = None
                fields = _interesting_fields(decoded)
                if proxy.inspect is not None and decoded is not None:
                    proxy.inspect(self.command, self.path, decoded)
            self.send_response_only(resp.status, resp.reason)
            for key, value in resp.getheaders():
                if key.lower() in HOP_BY_HOP:
                    continue
                if key.lower() == "location":
                    # resumable uploads continue at the Location URL: keep them on the proxy too
                    value = value.replace(f"127.0.0.1:{proxy.upstream_port}", f"127.0.0.1:{proxy.port}")
                    value = value.replace(f"localhost:{proxy.upstream_port}", f"127.0.0.1:{proxy.port}")
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            try:
                self.wfile.write(payload)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            proxy.record(Call(started, time.monotonic(), self.command, self.path, resp.status, fields))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay

    return Handler
