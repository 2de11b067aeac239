"""`dbt-gemini-batch local up|status|down` as a new user runs it, then `dbt debug --target local` against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from gemini_batch.local.clients import local_bigquery_client
from gemini_batch.local.stack import free_port
from tests.integration.demo_project import DemoProject

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
        # the running stack's export lines, ready to paste
        assert f"export GEMINI_BATCH_BQ_PORT={ports['--bq-port']}\n" in status.stdout
        assert f"export GEMINI_BATCH_VERTEX_ENDPOINT=http://127.0.0.1:{ports['--vertex-port']}\n" in status.stdout
        assert "in memory; `local down` discards them" in up.stdout
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
    assert "BigQuery tables (datasets, answers, ledger) went with it" in down.stdout
    assert "local up --persist" in down.stdout
    assert not any(_alive(p) for p in pids.values())
    assert not (tmp_path / "stack.json").exists()
    status = subprocess.run([cli, "local", "status", *flags], capture_output=True, text=True, env=env, timeout=60)
    assert "bigquery: stopped" in status.stdout
    assert "export" not in status.stdout  # no exports for a stack that is not running


def test_persisted_tables_survive_down_and_up_and_down_says_so(tmp_path: Path) -> None:
    ports = {"--bq-port": free_port(), "--bq-grpc-port": free_port(), "--vertex-port": free_port()}
    flags = [str(x) for kv in ports.items() for x in kv] + ["--data-dir", str(tmp_path), "--persist"]
    cli = str(BIN / "dbt-gemini-batch")

    def local(action: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([cli, "local", action, *flags], capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    endpoint = f"http://127.0.0.1:{ports['--bq-port']}"
    try:
        assert "kept on disk" in local("up").stdout
        client = local_bigquery_client(endpoint, "local-project", "us-central1")
        client.query("create schema kept").result()
        client.query("create table kept.t as select 42 as answer").result()
        down = local("down")
        assert "the BigQuery tables are kept in" in down.stdout and "went with it" not in down.stdout
        local("up")
        client = local_bigquery_client(endpoint, "local-project", "us-central1")
        assert [r["answer"] for r in client.query("select answer from kept.t").result()] == [42]
    finally:
        subprocess.run([cli, "local", "down", *flags], capture_output=True, text=True, timeout=60)


def test_version_is_the_installed_distributions() -> None:
    out = subprocess.run([str(BIN / "dbt-gemini-batch"), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert out.stdout.strip() == f"dbt-gemini-batch {version('dbt-gemini-batch')}"


@pytest.mark.parametrize("command", ["run", "build"])
def test_run_and_build_help_say_the_other_arguments_go_to_dbt(command: str) -> None:
    out = subprocess.run([str(BIN / "dbt-gemini-batch"), command, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    text = " ".join(out.stdout.split())  # argparse wraps lines
    assert f"Every other argument goes to `dbt {command}` unchanged" in text
    assert "--no-wait" in text


def test_missing_local_extra_is_named_in_one_sentence(tmp_path: Path) -> None:
    # A PYTHONPATH entry that shadows bqemulator with a module failing to import, as when the extra is not installed;
    # the real console script runs.
    shadow = tmp_path / "shadow" / "bqemulator"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'bqemulator'\", name='bqemulator')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(shadow.parent)}
    ports = {"--bq-port": free_port(), "--bq-grpc-port": free_port(), "--vertex-port": free_port()}
    flags = [str(x) for kv in ports.items() for x in kv] + ["--data-dir", str(tmp_path / "stack")]
    out = subprocess.run(
        [str(BIN / "dbt-gemini-batch"), "local", "up", *flags], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert lines == [
        "ERROR the local stack needs the [local] extra, which is not installed (missing: bqemulator): "
        "run `pip install 'dbt-gemini-batch[local]'`"
    ]
    assert not (tmp_path / "stack" / "stack.json").exists()  # nothing was started


def test_a_selection_without_gemini_batch_models_says_so(demo: DemoProject) -> None:
    demo.dbt("parse")  # the scheduler commands read target/manifest.json
    for command in ("submit", "status", "collect"):
        out = demo.gb(command, "--select", "tag:no_such_tag")
        assert "no gemini_batch model matches --select tag:no_such_tag: nothing to do" in out.output, command
    run = demo.gb("run", "--select", "stg_shop__reviews")
    assert "no gemini_batch model was built by this `dbt run`: nothing was sent to Vertex AI" in run.output
    assert '{"unique_id"' not in run.output  # the selection is resolved with `dbt ls`, which must not print it
