"""Fixtures shared by the integration tests that run the demo project (integration_tests/) against the local stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject


@pytest.fixture(scope="session")
def seeded_demo_template(
    tmp_path_factory: pytest.TempPathFactory, bq_client: bigquery.Client, local_stack: StackInfo
) -> DemoProject:
    """The demo project copied, its package installed (`dbt deps`) and its seeds loaded (`dbt seed`) once a session.

    Every `demo` starts from a copy of it: a dbt start-up and ten seed loads per test were a quarter of the suite."""
    env = {**os.environ, **local_stack.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    project = DemoProject.copy(
        tmp_path_factory.mktemp("demo_template") / "demo", env, bq_client, local_stack.vertex_endpoint
    )
    project.dbt("seed")
    return project


@pytest.fixture()
def demo(tmp_path: Path, stack_env: dict[str, str], seeded_demo_template: DemoProject) -> DemoProject:
    """A fresh copy of the demo project in its own dataset, seeded, pointed at the session's local stack."""
    return seeded_demo_template.clone(tmp_path / "demo", stack_env)
