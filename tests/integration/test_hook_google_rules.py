"""The hook against Google's rules, through the real clients on the local stack (dbt-bigquery and
google-cloud-bigquery -> bqemulator, aiplatform REST -> the Vertex emulator): locations, job lookup after a failed
create, models, job tables, the BigQuery jobs' settings, and a stopped stack.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.local.stack import StackInfo, free_port
from tests.integration.demo_project import REPO, DemoProject, recording_session, set_emulator_config
from tests.integration.test_pipeline import BASELINE_FAULTS

pytestmark = pytest.mark.integration

MODEL_SQL = REPO / "integration_tests/models/demo/batch/review_insights.sql"
LONG_ALIAS = "review_insights_with_an_alias_long_enough_to_cut_labels"  # > 40 characters


@pytest.fixture()
def faults(local_stack: StackInfo) -> Iterator[None]:
    yield
    set_emulator_config(local_stack.vertex_endpoint, BASELINE_FAULTS)


def add_batch_model(demo: DemoProject, name: str, **config: Any) -> None:
    """A copy of the demo's batch model under another name, with extra config (tagged `rules` only).

    Package settings go in `meta`, as the demo gives them (a setting given both in meta and top-level is an error);
    dbt's own configs (alias, ...) stay top-level."""
    from gemini_batch.settings import registry

    sql = MODEL_SQL.read_text()
    top, meta = "", ""
    for key, value in config.items():
        if key in registry():
            # a key the demo model sets already is replaced, not repeated
            sql = re.sub(rf"^            '{key}': .*,\n", "", sql, flags=re.MULTILINE)
            meta += f"            {key!r}: {value!r},\n"
        else:
            top += f"        {key}={value!r},\n"
    sql = sql.replace("        tags=['demo'],\n", f"        tags=['rules'],\n{top}").replace(
        "        meta={\n", f"        meta={{\n{meta}", 1
    )
    assert top in sql and meta in sql
    demo.add_model(f"rules/{name}.sql", sql)


def job_tables(demo: DemoProject) -> list[str]:
    """Tables the hook built for jobs (staging, input, output) still in the demo's dataset."""
    return [t.table_id for t in demo.bq.list_tables(f"{demo.bq.project}.{demo.dataset}") if "__batch_" in t.table_id]


def ledger_rows(demo: DemoProject) -> list[dict[str, Any]]:
    try:
        return demo.ledger()
    except Exception:  # the ledger is created by the first dbt run; none yet means nothing was recorded
        return []


def test_locations_vertex_refuses_stop_the_model_before_anything_is_built(demo: DemoProject) -> None:
    # the materialization: a job location other than the dataset's stops the model itself
    demo.env["GEMINI_BATCH_VERTEX_LOCATION"] = "europe-west4"
    result = demo.gb("run", "--select", "+review_insights", ok=False)
    assert result.returncode != 0
    assert "is in us-central1 but its batch jobs would run in europe-west4" in result.output
    assert ledger_rows(demo) == [] and job_tables(demo) == []

    # the hook, for a plain `dbt run` followed by `submit`: US (any case), or another region, is refused before any
    # table or job; the message names the fix
    del demo.env["GEMINI_BATCH_VERTEX_LOCATION"]
    demo.dbt("run", "--select", "+review_insights")
    for location, expected in (("Us", "a BigQuery multi-region"), ("europe-west4", "set vertex_location")):
        demo.env["GEMINI_BATCH_VERTEX_LOCATION"] = location
        result = demo.gb("submit", "--select", "review_insights", ok=False)
        # a multi-region is already refused by the settings check (exit 2), another region by the preflight (exit 1)
        assert result.returncode in (1, 2), result.output
        assert "review_insights" in result.output and expected in result.output, result.output
        assert ledger_rows(demo) == [] and job_tables(demo) == []

    # Vertex locations are lower case: another spelling is named, never guessed at
    demo.env["GEMINI_BATCH_VERTEX_LOCATION"] = "US-Central1"
    result = demo.gb("submit", "--select", "review_insights", ok=False)
    assert result.returncode != 0 and "in lower case" in result.output, result.output
    assert ledger_rows(demo) == [] and job_tables(demo) == []
    demo.env["GEMINI_BATCH_VERTEX_LOCATION"] = "us-central1"
    demo.gb("submit", "--select", "review_insights", "--wait")
    assert [j["state"] for j in ledger_rows(demo)] == ["JOB_STATE_SUCCEEDED"]
    assert ledger_rows(demo)[0]["vertex_location"] == "us-central1"


def test_a_us_profile_is_refused_locally_before_any_job(
    demo: DemoProject, job_client: aiplatform_v1.JobServiceClient
) -> None:
    """A profile with `location: US` and the jobs in us-central1 (meta vertex_location): dbt makes the dataset with
    `create schema` in the query's location, US, which Vertex cannot read; the local BigQuery keeps it US, so the run
    stops at the model, naming the location, and no job is created."""
    profiles = demo.root / "profiles.yml"
    text = profiles.read_text()
    assert "      location: us-central1" in text, "the local target no longer gives its location as this test expects"
    profiles.write_text(text.replace("      location: us-central1", "      location: US", 1))
    demo.dataset = demo.env["GEMINI_BATCH_DATASET"] = f"{demo.dataset}_us"  # made by dbt, in the profile's location
    demo.add_review_model_meta("'vertex_location': 'us-central1'")
    demo.dbt("seed", "--select", "shop_reviews")
    assert demo.bq.get_dataset(demo.dataset).location == "US"
    jobs_before = {
        j.name
        for j in job_client.list_batch_prediction_jobs(parent=f"projects/{demo.bq.project}/locations/us-central1")
    }

    result = demo.gb("run", "--select", "+review_insights", ok=False)
    assert result.returncode != 0
    assert f"its dataset {demo.bq.project}.{demo.dataset} is in the BigQuery multi-region US" in result.output, (
        result.output[-3000:]
    )
    assert job_tables(demo) == [] and ledger_rows(demo) == []
    assert {
        j.name
        for j in job_client.list_batch_prediction_jobs(parent=f"projects/{demo.bq.project}/locations/us-central1")
    } == jobs_before
    demo.bq.delete_dataset(demo.dataset, delete_contents=True)


def test_a_failed_create_never_adopts_another_chunks_job(
    demo: DemoProject, local_stack: StackInfo, faults: None, job_client: aiplatform_v1.JobServiceClient
) -> None:
    add_batch_model(demo, "review_insights_long", alias=LONG_ALIAS, max_requests_per_job=15)
    # every create answers 503/429 although it made the job: each chunk must find its own job by its own label
    set_emulator_config(
        local_stack.vertex_endpoint,
        {"api_error_rate": 1.0, "api_error_methods": ["create"], "api_error_after_commit": True},
    )
    demo.gb("run", "--select", "+review_insights_long")
    set_emulator_config(local_stack.vertex_endpoint, BASELINE_FAULTS)

    ledger = ledger_rows(demo)
    assert len(ledger) >= 3, "the test needs several chunks"
    assert len({row["job_name"] for row in ledger}) == len(ledger), "two ledger rows adopted the same job"
    for row in ledger:
        job = job_client.get_batch_prediction_job(name=row["job_name"])
        assert job.input_config.bigquery_source.input_uri == f"bq://{row['input_table']}"
        assert row["state"] == "JOB_STATE_SUCCEEDED"
    # no job was created that no ledger row knows about (it would run, be billed and never be collected)
    mine = [
        job
        for job in job_client.list_batch_prediction_jobs(
            request={"parent": f"projects/{local_stack.project}/locations/us-central1"}
        )
        if f".{demo.dataset}.{LONG_ALIAS}" in job.input_config.bigquery_source.input_uri
    ]
    assert sorted(job.name for job in mine) == sorted(row["job_name"] for row in ledger)
    assert demo.scalar(f"select countif(status is null or status != '') from `{{ds}}.{LONG_ALIAS}`") == 0


def test_models_vertex_cannot_serve_here_are_refused_and_leave_no_tables(demo: DemoProject) -> None:
    # a tuned model in another location: refused before anything is built
    add_batch_model(demo, "tuned_elsewhere", gemini_model="projects/local-project/locations/europe-west4/models/42")
    result = demo.gb("run", "--select", "+tuned_elsewhere", ok=False)
    assert result.returncode == 1
    assert "lives in europe-west4 but the batch job would run in us-central1" in result.output
    assert ledger_rows(demo) == [] and job_tables(demo) == []

    # a model Vertex rejects at create (a tuned model of another project): the input table is dropped with it
    add_batch_model(demo, "tuned_other_project", gemini_model="projects/not-ours/locations/us-central1/models/42")
    result = demo.gb("run", "--select", "+tuned_other_project", ok=False)
    assert result.returncode == 1 and "Vertex rejected the batch job" in result.output
    [row] = ledger_rows(demo)
    # recorded as refused: no request billed, cost 0 (not a FAILED job of unknown cost)
    assert row["state"] == "REFUSED" and row["error"].startswith("create refused")
    assert job_tables(demo) == []

    # `models/<id>` (the Gemini API's spelling) is Google's publisher model
    add_batch_model(demo, "api_style_name", gemini_model="models/gemini-2.5-flash")
    demo.gb("run", "--select", "+api_style_name")
    assert demo.scalar("select countif(status is null or status != '') from `{ds}.api_style_name`") == 0


def test_hook_queries_carry_the_profile_guards_labels_and_job_tables_expire(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = demo.root / "profiles.yml"
    profile.write_text(
        profile.read_text().replace(
            "      job_retries: 0\n",
            "      job_retries: 0\n      maximum_bytes_billed: 5000000000\n      priority: batch\n"
            "      job_execution_timeout_seconds: 7200\n",
            1,
        )
    )
    demo.dbt("run", "--select", "+review_insights")
    session, recorder, node = recording_session(demo, monkeypatch)
    outcome = session.runner.process(node, session.settings(node), wait=True)
    assert outcome.ok and outcome.succeeded > 0

    # Every query but the lease's reading of BigQuery's clock (`select current_timestamp()`: no table, 0 bytes billed;
    # it must not wait in the BATCH queue either, or the lease's deadline would be measured late).
    queries = [
        b["configuration"]
        for b in recorder.bodies
        if "query" in b.get("configuration", {})
        and b["configuration"]["query"]["query"] != "select current_timestamp() as now"
    ]
    assert len(queries) >= 6  # ledger insert/update, pending count, staging, input table, merge, counts
    for config in queries:
        assert config["labels"]["dbt_invocation_id"] == session.runner.invocation_id
        assert config["labels"]["dbt_node"] == "model_gemini_batch_integration_tests_review_insights"
        assert config["query"]["maximumBytesBilled"] == "5000000000"
        assert config["query"]["priority"] == "BATCH"
        assert config["jobTimeoutMs"] == "7200000"
    # job tables expire after Vertex's queue (72 h) and run (24 h) limits. bqemulator accepts
    # but does not keep table expirations, so the DDL sent is what can be checked here.
    ddl = [c["query"]["query"] for c in queries if re.search(r"create table `[^`]*__batch_", c["query"]["query"])]
    # each job's input table is cut straight from the pending rows (no staging copy)
    assert ddl and all("interval 5 day" in q for q in ddl)


def test_a_stopped_local_stack_is_one_sentence(tmp_path: Path, bq_client: bigquery.Client) -> None:
    port = free_port()  # nothing listens there
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GEMINI_BATCH_")},
        "GEMINI_BATCH_BQ_PORT": str(port),
        "GEMINI_BATCH_VERTEX_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    demo = DemoProject.copy(tmp_path / "demo", env, bq_client, env["GEMINI_BATCH_VERTEX_ENDPOINT"])
    demo.dbt("parse")
    for command in ("status", "submit"):
        result = demo.gb(command, ok=False)
        assert result.returncode == 1, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert lines == [
            f"gemini_batch: ERROR nothing answers at http://127.0.0.1:{port} (BigQuery): the local stack is not "
            "running; start it with `dbt-gemini-batch local up`, run the `export` lines it prints, then run the "
            "command again."
        ], result.output


def test_collect_counts_rows_without_an_answer_as_failed(bq_client: bigquery.Client, dataset: str) -> None:
    """Vertex's output rows as the merge reads them: only a row with a response and no status is an answer."""
    from gemini_batch.batch.collect import merge_output
    from gemini_batch.batch.context import BatchContext
    from gemini_batch.dbt_project import BatchNode
    from gemini_batch.ledger import Ledger

    node = BatchNode(unique_id="model.p.m", name="m", database=bq_client.project, schema=dataset, alias="m")
    ddl = (REPO / "macros/materializations/gemini_batch/_create_responses_table.sql").read_text()
    columns = re.search(r"\}\} \((.*?)\)\s*cluster by", ddl, flags=re.DOTALL)
    assert columns is not None
    output = f"{node.dataset}.m_out"
    for sql in (
        f"create table `{node.responses_table}` ({columns.group(1)})",
        f"""
        create table `{output}` as
        select 'ok' as request_hash, '{{}}' as request, json '{{"candidates": [{{"content": {{}}}}],
            "usageMetadata": {{"promptTokenCount": 3, "totalTokenCount": 5}}}}' as response,
            '' as status, current_timestamp() as processed_time
        union all select 'no_response', '{{}}', cast(null as json), cast(null as string), current_timestamp()
        union all select 'empty_object', '{{}}', json '{{}}', '', current_timestamp()
        union all select 'failed', '{{}}', json '{{}}', 'Request failed: INVALID_ARGUMENT', current_timestamp()
        """,
    ):
        bq_client.query(sql).result()
    ctx = BatchContext(bq_client, Ledger(bq_client, f"{node.dataset}.ledger"), lambda *_: None, "us-central1")  # type: ignore[arg-type,return-value]
    counts = merge_output(ctx, node, output, "projects/p/locations/l/batchPredictionJobs/1")
    assert counts["succeeded"] == 1 and counts["failed"] == 3
    assert counts["prompt_tokens"] == 3 and counts["total_tokens"] == 5
    statuses = {
        row["request_hash"]: row["status"]
        for row in bq_client.query(f"select request_hash, status from `{node.responses_table}`").result()
    }
    assert statuses == {
        "ok": "",
        "no_response": "empty response",
        "empty_object": "empty response",
        "failed": "Request failed: INVALID_ARGUMENT",
    }
