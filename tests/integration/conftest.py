"""Fixtures shared by the integration tests that run the demo project (integration_tests/) against the local stack."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject


@pytest.fixture()
def demo(tmp_path: Path, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo) -> DemoProject:
    """A fresh copy of the demo project in its own dataset, seeded, pointed at the session's local stack."""
    project = DemoProject.copy(tmp_path / "demo", stack_env, bq_client, local_stack.vertex_endpoint)
    project.dbt("seed")
    return project
