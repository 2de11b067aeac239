"""Start, stop and inspect the local stack on loopback: bqemulator (BigQuery), gemini_batch.emulator (Vertex AI) and
gcp-storage-emulator (Cloud Storage).

State lives in `<data_dir>/stack.json` (process ids and endpoints) so `down` and `status` work from another shell.
Each service runs in its own process group, so `down` leaves no stray child behind.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gemini_batch.local import iam

DEFAULT_DATA_DIR = Path(".gemini_batch_local")
STATE_FILE = "stack.json"
# What the `[local]` extra of pyproject.toml installs (module names), needed by the local BigQuery only.
LOCAL_EXTRA_MODULES = ("bqemulator", "duckdb", "duckdb_extension_spatial")
INSTALL_LOCAL_EXTRA = "pip install 'dbt-gemini-batch[local]'"


class LocalExtraMissing(RuntimeError):
    pass


def require_local_extra() -> None:
    """One sentence naming the extra to install, instead of a traceback from the BigQuery child process's log."""
    missing = []
    for name in LOCAL_EXTRA_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise LocalExtraMissing(
            f"the local stack needs the [local] extra, which is not installed (missing: {', '.join(missing)}): "
            f"run `{INSTALL_LOCAL_EXTRA}`"
        )


@dataclass
class StackConfig:
    project: str = "local-project"
    bq_port: int = 9050
    bq_grpc_port: int = 9060
    vertex_port: int = 8085
    storage_port: int = 9023  # gcp-storage-emulator's own default port
    data_dir: Path = DEFAULT_DATA_DIR
    persist_bigquery: bool = False
    emulator_config: Path | None = None  # JSON file of gemini_batch.emulator settings (timings, faults, responder)
    ready_timeout_seconds: float = 90.0

    @classmethod
    def on_free_ports(cls, data_dir: Path, **options: Any) -> StackConfig:
        """A stack on free loopback ports (every service), so several can run at once: tests, demo, benchmarks."""
        return cls(
            bq_port=free_port(),
            bq_grpc_port=free_port(),
            vertex_port=free_port(),
            storage_port=free_port(),
            data_dir=data_dir,
            **options,
        )


@dataclass
class StackInfo:
    project: str
    bigquery_endpoint: str
    vertex_endpoint: str
    storage_endpoint: str = ""  # "" in a state file written before Cloud Storage joined the stack
    pids: dict[str, int] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    bigquery_data_dir: str | None = None  # where tables persist (`up --persist`); None: in memory, gone on `down`
    iam_file: str = ""  # permissions the local services deny (gemini_batch.local.iam); "" before it existed

    def env(self) -> dict[str, str]:
        """Environment variables that point dbt (profiles.example.yml) and the hook at this stack."""
        return {
            "GEMINI_BATCH_LOCAL_PROJECT": self.project,
            "GEMINI_BATCH_BQ_PORT": self.bigquery_endpoint.rsplit(":", 1)[1],
            "GEMINI_BATCH_VERTEX_ENDPOINT": self.vertex_endpoint,
            # google-cloud-storage reads this to reach the local Cloud Storage.
            "STORAGE_EMULATOR_HOST": self.storage_endpoint,
            "GEMINI_BATCH_POLL_INITIAL_SECONDS": "0.5",
            "GEMINI_BATCH_POLL_MAX_SECONDS": "2",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _is_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own http://127.0.0.1 URLs
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalStack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.data_dir = Path(self.config.data_dir).resolve()
        self.state_path = self.data_dir / STATE_FILE

    # -- state -------------------------------------------------------------------------------------------------
    def read_state(self) -> StackInfo | None:
        if not self.state_path.exists():
            return None
        return StackInfo(**json.loads(self.state_path.read_text()))

    def _write_state(self, info: StackInfo) -> None:
        self.state_path.write_text(json.dumps(asdict(info), indent=2))

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.data_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child process
        return subprocess.Popen(
            [sys.executable, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, iam.ENV_IAM_FILE: str(self.data_dir / iam.IAM_FILE), **(env or {})},
            start_new_session=True,  # own process group: `down` kills the whole tree
        )

    def up(self) -> StackInfo:
        """Start both services (or return the running ones) and wait until they answer."""
        existing = self.read_state()
        if existing and all(_alive(pid) for pid in existing.pids.values()):
            return existing
        if existing:
            self.down()
        require_local_extra()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.config
        bq_url = f"http://127.0.0.1:{cfg.bq_port}"
        vertex_url = f"http://127.0.0.1:{cfg.vertex_port}"
        storage_url = f"http://127.0.0.1:{cfg.storage_port}"
        bq_args = [
            "-m", "gemini_batch.local.bigquery_server",
            "--rest-port", str(cfg.bq_port), "--grpc-port", str(cfg.bq_grpc_port), "--project", cfg.project,
            "--vertex-endpoint", vertex_url,
        ]  # fmt: skip
        bigquery_data_dir = str(self.data_dir / "bigquery") if cfg.persist_bigquery else None
        if bigquery_data_dir:
            bq_args += ["--data-dir", bigquery_data_dir]
        vertex_args = [
            "-m", "gemini_batch.emulator",
            "--port", str(cfg.vertex_port), "--bigquery-endpoint", bq_url, "--project", cfg.project,
            "--state-dir", str(self.data_dir / "vertex"), "--storage-endpoint", storage_url,
        ]  # fmt: skip
        # Objects are files under <data_dir>/storage (gcp-storage-emulator keeps them in <dir>/.cloudstorage/<bucket>/
        # <name>), and bqemulator resolves gs://bucket/name under BQEMU_GCS_LOCAL_ROOT: pointing that at the same folder
        # lets BigQuery load jobs read what the local Cloud Storage holds. Without --persist the folder starts empty.
        storage_dir = self.data_dir / "storage"
        if not cfg.persist_bigquery:
            shutil.rmtree(storage_dir, ignore_errors=True)
        # gemini_batch.local.storage_server: gcp-storage-emulator that also serves the files bqemulator's EXPORT DATA
        # writes into that folder (see there).
        storage_args = [
            "-m", "gemini_batch.local.storage_server", "--data-dir", str(storage_dir),
            "start", "--host", "127.0.0.1", "--port", str(cfg.storage_port), "--quiet",
        ]  # fmt: skip
        procs = {
            "bigquery": self._spawn("bigquery", bq_args, {"BQEMU_GCS_LOCAL_ROOT": str(storage_dir / ".cloudstorage")}),
            "vertex": self._spawn("vertex", vertex_args),
            "storage": self._spawn("storage", storage_args),
        }
        info = StackInfo(
            project=cfg.project,
            bigquery_endpoint=bq_url,
            vertex_endpoint=vertex_url,
            storage_endpoint=storage_url,
            pids={name: p.pid for name, p in procs.items()},
            logs={name: str(self.data_dir / f"{name}.log") for name in procs},
            bigquery_data_dir=bigquery_data_dir,
            iam_file=str(self.data_dir / iam.IAM_FILE),
        )
        self._write_state(info)
        checks = {"bigquery": f"{bq_url}/readyz", "vertex": f"{vertex_url}/healthz", "storage": f"{storage_url}/"}
        deadline = time.monotonic() + cfg.ready_timeout_seconds
        pending = dict(checks)
        while pending:
            for name in list(pending):
                if procs[name].poll() is not None:
                    self.down()
                    raise RuntimeError(f"local {name} service exited during start-up; see {info.logs[name]}")
                if _is_ready(pending[name]):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                self.down()
                raise RuntimeError(
                    f"local stack not ready after {cfg.ready_timeout_seconds:.0f}s: {', '.join(pending)}; "
                    f"see the logs in {self.data_dir}"
                )
            time.sleep(0.2)
        return info

    def down(self, grace_seconds: float = 10.0) -> list[str]:
        """Stop every process the state file names (whole process groups); returns the names stopped."""
        info = self.read_state()
        if info is None:
            return []
        stopped = []
        for name, pid in info.pids.items():
            if not _alive(pid):
                continue
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + grace_seconds
            while _alive(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.1)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
                _reap(pid)
            stopped.append(name)
        self.state_path.unlink(missing_ok=True)
        return stopped

    def status(self) -> dict[str, str]:
        info = self.read_state()
        if info is None:
            return {"bigquery": "stopped", "vertex": "stopped", "storage": "stopped"}
        urls = {
            "bigquery": f"{info.bigquery_endpoint}/readyz",
            "vertex": f"{info.vertex_endpoint}/healthz",
            "storage": f"{info.storage_endpoint}/",
        }
        result = {}
        for name, pid in info.pids.items():
            if not _alive(pid):
                result[name] = "stopped (stale state)"
            else:
                result[name] = "ready" if _is_ready(urls[name]) else "starting or unhealthy"
        return result


def _reap(pid: int) -> None:
    """Collect a child that exited, so it does not linger as a zombie that still looks alive."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
