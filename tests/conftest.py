"""Shared fixtures. Integration tests run against a real local stack (bqemulator + gemini_batch.emulator) that this
session starts on free loopback ports and stops at the end; no test reaches Google."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import aiplatform_v1, bigquery, storage

from gemini_batch.local.clients import local_bigquery_client, local_job_client, local_storage_client
from gemini_batch.local.stack import LocalStack, StackConfig, StackInfo
from tests.integration.demo_project import get_emulator_config, set_bigquery_faults, set_emulator_config

LOCATION = "us-central1"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackInfo]:
    data_dir = tmp_path_factory.mktemp("local_stack")
    stack = LocalStack(StackConfig.on_free_ports(Path(data_dir)))
    info = stack.up()
    try:
        yield info
    finally:
        stopped = stack.down()
        assert set(stopped) == {"bigquery", "vertex", "storage"}, f"a local service had died before teardown: {stopped}"


@pytest.fixture(scope="session")
def stack_defaults(local_stack: StackInfo) -> dict[str, Any]:
    """The Vertex emulator's config as the stack started it, before any test switched a fault or a timing on."""
    return get_emulator_config(local_stack.vertex_endpoint)


@pytest.fixture(autouse=True)
def faults_never_outlive_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """After every test on the local stack, its emulator config and local BigQuery fault rules go back to how the
    stack started. The two workers each run many tests on one stack: a key a test set and its own fixture did not
    reset (a drop rate, a list lag, a run delay) otherwise changed what every later test on that worker saw, which
    made tests fail in CI's order and pass alone."""
    if "local_stack" not in request.fixturenames:
        yield
        return
    stack: StackInfo = request.getfixturevalue("local_stack")
    defaults: dict[str, Any] = request.getfixturevalue("stack_defaults")
    yield
    set_emulator_config(stack.vertex_endpoint, defaults)
    set_bigquery_faults(stack.bigquery_endpoint, [])


@pytest.fixture(scope="session")
def bq_client(local_stack: StackInfo) -> bigquery.Client:
    return local_bigquery_client(local_stack.bigquery_endpoint, local_stack.project, LOCATION)


@pytest.fixture(scope="session")
def job_client(local_stack: StackInfo) -> aiplatform_v1.JobServiceClient:
    return local_job_client(local_stack.vertex_endpoint)


@pytest.fixture(scope="session")
def storage_client(local_stack: StackInfo) -> storage.Client:
    return local_storage_client(local_stack.storage_endpoint, local_stack.project)


@pytest.fixture()
def bucket(storage_client: storage.Client) -> Iterator[storage.Bucket]:
    """A uniquely named bucket on the local Cloud Storage, in the datasets' region; emptied and dropped after."""
    created = storage_client.create_bucket(f"t-{uuid.uuid4().hex[:12]}", location=LOCATION)
    yield created
    for blob in storage_client.list_blobs(created.name):
        blob.delete()
    created.delete()


@pytest.fixture()
def dataset(bq_client: bigquery.Client) -> Iterator[str]:
    """A uniquely named dataset in us-central1, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    ds = bigquery.Dataset(f"{bq_client.project}.{name}")
    ds.location = LOCATION
    bq_client.create_dataset(ds)
    yield name
    bq_client.delete_dataset(name, delete_contents=True, not_found_ok=True)


@pytest.fixture()
def stack_env(local_stack: StackInfo, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point dbt and the hook (via environment) at the session's local stack."""
    env = local_stack.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return dict(os.environ)
