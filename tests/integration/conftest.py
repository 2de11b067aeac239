"""Fixtures shared by the integration tests that run the demo project (integration_tests/) against the local stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, reset_emulator


@pytest.fixture(scope="session")
def demo_dataset() -> str:
    """The dataset of every `demo` on this pytest-xdist worker (PYTEST_XDIST_WORKER, e.g. gw0; "main" without
    workers): its tests run one after another on their own local stack, so each can drop and make it again."""
    return f"demo_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@pytest.fixture(scope="session")
def seeded_demo_template(
    tmp_path_factory: pytest.TempPathFactory, bq_client: bigquery.Client, local_stack: StackInfo, demo_dataset: str
) -> DemoProject:
    """The demo project copied, its package installed (`dbt deps`), its seeds loaded (`dbt seed`) and its manifest
    saved as a `demo` parses it (`dbt parse`) once a session.

    Every `demo` starts from a copy of it: a dbt start-up and ten seed loads per test were a quarter of the suite,
    and a whole parse on each copy's first command a fifth of what is left."""
    env = {**os.environ, **local_stack.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    project = DemoProject.copy(
        tmp_path_factory.mktemp("demo_template") / "demo", env, bq_client, local_stack.vertex_endpoint
    )
    project.dbt("seed")
    project.parse_for(demo_dataset)
    return project


@pytest.fixture()
def demo(
    tmp_path: Path,
    stack_env: dict[str, str],
    seeded_demo_template: DemoProject,
    demo_dataset: str,
    local_stack: StackInfo,
) -> DemoProject:
    """A fresh copy of the demo project in this worker's demo dataset (dropped and made again, seeded), pointed at
    the session's local stack. The Vertex emulator first forgets every job (waiting for those still running): an
    earlier test's job reads an input table of the same dataset and model, which a new run would otherwise find by
    its labels and adopt."""
    reset_emulator(local_stack.vertex_endpoint)
    return seeded_demo_template.clone(tmp_path / "demo", stack_env, dataset=demo_dataset)
