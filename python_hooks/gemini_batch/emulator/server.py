"""HTTP front of the emulator: Vertex AI's batchPredictionJobs REST paths (v1 and v1beta1), health and admin.

Built on the standard library's ThreadingHTTPServer so it needs nothing beyond the project's own dependencies, and
speaks exactly what google.cloud.aiplatform_v1.JobServiceClient(transport="rest") sends and expects: JSON bodies,
`?$alt=json;enum-encoding=int` (answers still carry enum names, which the client accepts), errors as google.rpc.Status.

Admin endpoints (not part of Vertex): GET /healthz, GET/POST /emulator/config (read / merge-update the config of the
running server, e.g. to switch fault injection on), POST /emulator/reset (forget every job).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gemini_batch.emulator.api import JobService
from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.count_tokens import count_tokens
from gemini_batch.emulator.errors import ApiError, invalid_argument
from gemini_batch.emulator.faults import ApiFaults
from gemini_batch.emulator.jobs import JobRunner
from gemini_batch.emulator.store import JobStore

log = logging.getLogger(__name__)

_PARENT = r"^/(?:v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(_PARENT + r"/batchPredictionJobs$"), "create"),
    ("GET", re.compile(_PARENT + r"/batchPredictionJobs$"), "list"),
    ("GET", re.compile(_PARENT + r"/batchPredictionJobs/(?P<job_id>[^/:]+)$"), "get"),
    ("DELETE", re.compile(_PARENT + r"/batchPredictionJobs/(?P<job_id>[^/:]+)$"), "delete"),
    ("POST", re.compile(_PARENT + r"/batchPredictionJobs/(?P<job_id>[^/:]+):cancel$"), "cancel"),
    ("GET", re.compile(_PARENT + r"/operations/(?P<operation_id>[^/:]+)$"), "operation"),
    ("POST", re.compile(_PARENT + r"/publishers/(?P<publisher>[^/]+)/models/(?P<model>[^/:]+):countTokens$"), "count"),
]


class VertexEmulator:
    """A local Vertex AI batchPredictionJobs service that reads and writes BigQuery at `bigquery_endpoint`."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        bigquery_endpoint: str = "http://127.0.0.1:9050",
        project: str = "local-project",
        state_dir: Path | str | None = None,
        storage_endpoint: str | None = None,
    ) -> None:
        self._config = config or EmulatorConfig()
        self._config_lock = threading.Lock()
        self.bigquery_endpoint = bigquery_endpoint
        self.project = project
        self.state_dir = Path(state_dir) if state_dir else None
        self.store = JobStore(self.state_dir)
        self.storage_endpoint = storage_endpoint
        self.runner = JobRunner(self.store, lambda: self.config, bigquery_endpoint, project, storage_endpoint)
        self.service = JobService(self.store, self.runner, lambda: self.config, project)
        self.api_faults = ApiFaults()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- config ----------------------------------------------------------------------------------------------
    @property
    def config(self) -> EmulatorConfig:
        with self._config_lock:
            return self._config

    def update_config(self, patch: dict[str, Any]) -> EmulatorConfig:
        """Merge `patch` into the running config (new jobs and calls see it); restart the fault schedule."""
        with self._config_lock:
            self._config = self._config.merged(patch)
            config = self._config
        self.api_faults.reset()
        return config

    def reset(self) -> None:
        """Forget every job: each is cancelled and its thread waited for first, so none writes after the reset."""
        self.runner.cancel_all_and_wait()
        self.store.clear()
        self.api_faults.reset()

    # -- lifecycle -------------------------------------------------------------------------------------------
    def _bind(self, host: str, port: int) -> ThreadingHTTPServer:
        handler = type("Handler", (_Handler,), {"emulator": self})
        server = ThreadingHTTPServer((host, port), handler)
        server.daemon_threads = True
        self._server = server
        self.base_url = f"http://{host}:{server.server_address[1]}"
        self.runner.resume(self.store.load())
        return server

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL for ClientOptions(api_endpoint=...)."""
        server = self._bind(host, port)
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="vertex-emulator", daemon=True
        )
        self._thread.start()
        log.info("Vertex AI emulator listening on %s (BigQuery at %s)", self.base_url, self.bigquery_endpoint)
        return self.base_url

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8085) -> None:
        """Serve in this thread until stop() is called (from a signal handler or another thread)."""
        server = self._bind(host, port)
        log.info("Vertex AI emulator listening on %s (BigQuery at %s)", self.base_url, self.bigquery_endpoint)
        server.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.runner.stop()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> VertexEmulator:
        if not self._server:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch --------------------------------------------------------------------------------------------
    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if path == "/healthz" and method == "GET":
            return 200, {"status": "ok"}
        if path == "/emulator/config":
            if method == "GET":
                return 200, self.config.to_dict()
            if method == "POST":
                try:
                    return 200, self.update_config(body if body is not None else {}).to_dict()
                except (ValueError, TypeError) as exc:
                    raise invalid_argument(str(exc)) from exc
        if path == "/emulator/reset" and method == "POST":
            self.reset()
            return 200, {}
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                return self._call(name, match.groupdict(), query, body)
        raise ApiError("NOT_FOUND", f"{method} {path} is not a method of the local Vertex AI emulator.")

    def _call(self, name: str, args: dict[str, str], query: dict[str, str], body: Any) -> tuple[int, Any]:
        service = self.service
        calls: dict[str, Callable[[], Any]] = {
            "create": lambda: service.create(args["project"], args["location"], body),
            "list": lambda: service.list(args["project"], args["location"], query),
            "get": lambda: service.get(args["project"], args["location"], args["job_id"]),
            "delete": lambda: service.delete(args["project"], args["location"], args["job_id"]),
            "cancel": lambda: service.cancel(args["project"], args["location"], args["job_id"]),
            "operation": lambda: service.get_operation(args["project"], args["location"], args["operation_id"]),
            "count": lambda: self._count_tokens(args, body),
        }
        config = self.config
        fault = self.api_faults.check(name, config)
        if fault is not None and not config.api_error_after_commit:
            raise fault
        result = calls[name]()
        if fault is not None:
            raise fault
        return 200, result

    def _count_tokens(self, args: dict[str, str], body: Any) -> dict[str, Any]:
        self.service.check_parent(args["project"], args["location"])
        config = self.config
        projects = {self.project, config.project_number}
        return count_tokens(
            args["location"], args["publisher"], args["model"], body, projects, config.extra_publisher_models
        )


class _Handler(BaseHTTPRequestHandler):
    emulator: VertexEmulator
    protocol_version = "HTTP/1.1"  # keep-alive: the client reuses one connection
    # A response is written as headers, then body: with Nagle's algorithm the body waits for the client's delayed ACK
    # of the headers, ~40 ms per call on Linux loopback, a latency real Vertex does not have.
    disable_nagle_algorithm = True
    server_version = "gemini-batch-vertex-emulator"

    def _handle(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            status, payload = 400, invalid_argument("Invalid JSON payload received.").body()
        else:
            try:
                status, payload = self.emulator.dispatch(self.command, path, query, body)
            except ApiError as exc:
                status, payload = exc.http_status, exc.body()
            except Exception as exc:
                log.exception("unhandled error on %s %s", self.command, path)
                status, payload = (
                    500,
                    ApiError("INTERNAL", f"Internal error in the local emulator: {exc}").body(),
                )
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PATCH = _handle

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line and status: no headers, so no credentials reach the log.
        log.debug("%s %s", self.address_string(), format % args)
