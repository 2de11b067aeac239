"""`dbt-gemini-batch local up|status|down` as a new user runs it, then `dbt debug --target local` against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gemini_batch.local.stack import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_local_up_dbt_debug_and_down_leaves_no_process(tmp_path: Path) -> None:
    ports = {
        "--bq-port": free_port(),
        "--bq-grpc-port": free_port(),
        "--vertex-port": free_port(),
        "--gcs-port": free_port(),
    }
    flags = [str(x) for kv in ports.items() for x in kv] + ["--data-dir", str(tmp_path)]
    cli = str(BIN / "dbt-gemini-batch")
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}

    up = subprocess.run([cli, "local", "up", *flags], capture_output=True, text=True, env=env, timeout=180)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"http://127.0.0.1:{ports['--bq-port']}" in up.stdout
        assert f"http://127.0.0.1:{ports['--vertex-port']}" in up.stdout
        pids = json.loads((tmp_path / "stack.json").read_text())["pids"]
        assert f"STORAGE_EMULATOR_HOST=http://127.0.0.1:{ports['--gcs-port']}" in up.stdout
        assert set(pids) == {"bigquery", "vertex", "storage"} and all(_alive(p) for p in pids.values())

        # `up` again is a no-op that reports the same running stack
        again = subprocess.run([cli, "local", "up", *flags], capture_output=True, text=True, env=env, timeout=60)
        assert json.loads((tmp_path / "stack.json").read_text())["pids"] == pids, again.stdout

        status = subprocess.run([cli, "local", "status", *flags], capture_output=True, text=True, env=env, timeout=60)
        assert "bigquery: ready" in status.stdout and "vertex: ready" in status.stdout
        assert "storage: ready" in status.stdout

        debug = subprocess.run(
            [str(BIN / "dbt"), "debug", "--target", "local"],
            cwd=REPO / "integration_tests",
            capture_output=True,
            text=True,
            env={**env, "GEMINI_BATCH_BQ_PORT": str(ports["--bq-port"])},
            timeout=180,
        )
        assert debug.returncode == 0, debug.stdout[-3000:]
        assert "All checks passed" in debug.stdout
    finally:
        down = subprocess.run([cli, "local", "down", *flags], capture_output=True, text=True, env=env, timeout=60)
    assert down.returncode == 0
    assert "bigquery" in down.stdout and "vertex" in down.stdout and "storage" in down.stdout
    assert not any(_alive(p) for p in pids.values())
    assert not (tmp_path / "stack.json").exists()
    status = subprocess.run([cli, "local", "status", *flags], capture_output=True, text=True, env=env, timeout=60)
    assert "bigquery: stopped" in status.stdout
