"""Every command ends within a minute with one sentence naming the service and the next step, no traceback, when the
local stack is stopped, when a service accepts connections and never answers, and when the key file is unusable."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo, free_port
from tests.integration.demo_project import CommandResult, DemoProject

COMMANDS = (
    ("status",),
    ("status", "--failed"),
    ("submit",),
    ("collect",),
    ("cancel",),
    ("clean",),
    ("plan",),
    ("build",),
    ("run", "--no-wait"),
)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, bq_client: bigquery.Client, local_stack: StackInfo
) -> DemoProject:
    """The demo project, parsed (the scheduler commands read target/manifest.json; parse reaches no service)."""
    env = {**os.environ, **local_stack.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    demo = DemoProject.copy(
        tmp_path_factory.mktemp("unreachable") / "demo", env, bq_client, local_stack.vertex_endpoint
    )
    demo.dbt("parse")
    return demo


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel completes them into the backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def one_sentence(demo: DemoProject, env: dict[str, str], *command: str) -> str:
    started = time.monotonic()
    saved = demo.env
    demo.env = {**saved, **env}
    try:
        result: CommandResult = demo.gb(*command, ok=False)
    finally:
        demo.env = saved
    elapsed = time.monotonic() - started
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.returncode == 1, (command, result.output[-3000:])
    assert elapsed < 60, (command, elapsed)
    assert "Traceback" not in result.output, (command, result.output[-3000:])
    assert len(lines) == 1 and lines[0].startswith("gemini_batch: ERROR "), (command, result.output[-3000:])
    return lines[0]


def test_every_command_says_the_stack_is_stopped(project: DemoProject) -> None:
    port = free_port()  # nothing listens there
    env = {"GEMINI_BATCH_BQ_PORT": str(port), "GEMINI_BATCH_VERTEX_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    for command in COMMANDS:
        line = one_sentence(project, env, *command)
        assert f"http://127.0.0.1:{port} (BigQuery)" in line and "`dbt-gemini-batch local up`" in line, line


def test_a_service_that_never_answers_is_named(project: DemoProject, silent_port: int) -> None:
    for command in (("status",), ("collect",), ("plan",), ("build",)):
        line = one_sentence(project, {"GEMINI_BATCH_BQ_PORT": str(silent_port)}, *command)
        assert f"BigQuery at http://127.0.0.1:{silent_port} accepts connections but did not answer" in line, line
        assert "`dbt-gemini-batch local up`" in line
    line = one_sentence(project, {"GEMINI_BATCH_VERTEX_ENDPOINT": f"http://127.0.0.1:{silent_port}"}, "submit")
    assert f"Vertex AI at http://127.0.0.1:{silent_port} accepts connections but did not answer" in line, line


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (json.dumps({"type": "service_account", "project_id": "p"}), "missing fields"),
        ("not json at all", "not JSON"),
        (None, "no such file"),
    ],
)
def test_an_unusable_key_file_is_named(project: DemoProject, tmp_path: Path, content: str | None, reason: str) -> None:
    keyfile = tmp_path / "key.json"
    if content is not None:
        keyfile.write_text(content)
    env = {"GEMINI_BATCH_TARGET": "prod", "GEMINI_BATCH_KEYFILE": str(keyfile), "GEMINI_BATCH_PROJECT": "p"}
    for command in (("status",), ("submit",), ("build",)):
        line = one_sentence(project, env, *command)
        assert f"the service-account key file of the dbt target ({keyfile}) cannot be used (" in line, line
        assert reason in line and "profiles.yml" in line, line
        assert "gcloud" not in line  # not dbt-bigquery's interactive `gcloud auth application-default login`
