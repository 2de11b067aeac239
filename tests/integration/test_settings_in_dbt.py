"""Package settings through dbt-bigquery on the local stack: where they are read from, and what stops a model.

The materialization (request_hash) and the hook (the model it sends to Vertex) must read the same setting; a misspelt
key or a bad value must stop the model before any table is built or any job created.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.api_core.exceptions import NotFound
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.local.stack import StackInfo
from tests.conftest import LOCATION
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

# One literal row: these models need no seed.
BODY = "select 1 as id, {{ gemini_batch.request(prompt=\"'Say hello.'\") }} as request\n"


def model(config: str) -> str:
    return f"{{{{ config(materialized='gemini_batch', {config}) }}}}\n{BODY}"


@pytest.fixture()
def demo(tmp_path: Path, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo) -> DemoProject:
    return DemoProject.copy(tmp_path / "demo", stack_env, bq_client, local_stack.vertex_endpoint)


def table_exists(demo: DemoProject, name: str) -> bool:
    try:
        demo.bq.get_table(demo.table(name))
    except NotFound:
        return False
    return True


def vertex_jobs(job_client: aiplatform_v1.JobServiceClient, project: str) -> list[aiplatform_v1.BatchPredictionJob]:
    return list(job_client.list_batch_prediction_jobs(parent=f"projects/{project}/locations/{LOCATION}"))


def test_misspelt_keys_and_bad_values_stop_the_model_before_anything_is_built_or_submitted(
    demo: DemoProject, job_client: aiplatform_v1.JobServiceClient
) -> None:
    demo.add_model("settings/typo_top.sql", model("gemini_modle='gemini-2.5-pro'"))
    demo.add_model("settings/typo_meta.sql", model("meta={'owner': 'data-team', 'gemini_modle': 'gemini-2.5-pro'}"))
    demo.add_model("settings/bad_value.sql", model("meta={'max_requests_per_job': 0}"))
    demo.add_model("settings/multi_region.sql", model("meta={'vertex_location': 'EU'}"))
    jobs_before = len(vertex_jobs(job_client, demo.bq.project))

    result = demo.gb("run", "--select", "typo_top", "typo_meta", "bad_value", "multi_region", ok=False)

    assert result.returncode != 0
    out = " ".join(result.output.split())  # dbt wraps long messages
    assert (
        "model typo_top: config key 'gemini_modle' is not a gemini_batch setting; did you mean 'gemini_model'?" in out
    )
    assert "model typo_meta: meta key 'gemini_modle' is not a gemini_batch setting; did you mean 'gemini_model'?" in out
    assert "model bad_value: max_requests_per_job=0 (from meta) must be between 1 and 200000" in out
    assert 'model multi_region: vertex_location="EU" (from meta) is a BigQuery multi-region' in out
    for name in ("typo_top", "typo_meta", "bad_value", "multi_region"):
        for suffix in ("__requests", "__responses", ""):
            assert not table_exists(demo, name + suffix), f"{name}{suffix} was built"
    assert demo.ledger() == []
    assert len(vertex_jobs(job_client, demo.bq.project)) == jobs_before


def test_gemini_model_in_meta_changes_request_hash_and_the_model_the_hook_sends(
    demo: DemoProject, job_client: aiplatform_v1.JobServiceClient
) -> None:
    demo.add_model("settings/model_default.sql", model("tags=['settings']"))
    demo.add_model("settings/model_meta.sql", model("meta={'gemini_model': 'gemini-2.5-pro'}"))
    demo.add_model("settings/model_top.sql", model("gemini_model='gemini-2.5-pro'"))  # the compatible form

    demo.gb("run", "--select", "model_default", "model_meta", "model_top")

    hashes = {
        name: demo.scalar(f"select request_hash from `{{ds}}.{name}__requests`")
        for name in ("model_default", "model_meta", "model_top")
    }
    assert hashes["model_meta"] == hashes["model_top"] != hashes["model_default"]
    sent = {row["dbt_node"].rsplit(".", 1)[-1]: row["gemini_model"] for row in demo.ledger()}
    assert sent == {"model_default": "gemini-2.5-flash", "model_meta": "gemini-2.5-pro", "model_top": "gemini-2.5-pro"}
    ours = {
        job.model
        for job in vertex_jobs(job_client, demo.bq.project)
        if demo.dataset in job.input_config.bigquery_source.input_uri
    }
    assert ours == {"publishers/google/models/gemini-2.5-flash", "publishers/google/models/gemini-2.5-pro"}
    # every model got its answer
    for name in hashes:
        assert demo.scalar(f"select count(*) from `{{ds}}.{name}` where response is not null") == 1


def test_the_demo_gives_its_settings_without_a_deprecation_warning(demo: DemoProject) -> None:
    clean = demo.dbt("parse", "--no-partial-parse", "--show-all-deprecations")
    assert "CustomKeyInConfigDeprecation" not in clean.output
    # the check can fail: the old top-level form does warn
    demo.add_model("settings/model_top.sql", model("gemini_model='gemini-2.5-pro'"))
    old = demo.dbt("parse", "--no-partial-parse", "--show-all-deprecations")
    assert "CustomKeyInConfigDeprecation" in old.output
