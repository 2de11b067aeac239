"""Pure pieces of the hook: label values, progress lines, the run summary, ledger columns vs the dbt DDL."""

from __future__ import annotations

import re
from pathlib import Path

from gemini_batch.batch import NodeOutcome, label_value
from gemini_batch.ledger import COLUMNS, LedgerEntry
from gemini_batch.progress import Progress, format_elapsed
from gemini_batch.runner import summarize

REPO = Path(__file__).resolve().parents[2]


def test_label_values_follow_vertex_rules() -> None:
    value = label_value("Review-Insights.v2/" + "x" * 80)
    assert re.fullmatch(r"[a-z0-9_-]{1,63}", value)
    assert value.startswith("review-insights_v2_")


def test_labels_of_two_long_model_names_sharing_their_first_63_characters_stay_distinct() -> None:
    common = "classify_customer_support_tickets_by_product_area_and_urgency_v2"  # 64 characters
    first, second = label_value(common + "_europe"), label_value(common + "_americas")
    assert first != second
    assert all(re.fullmatch(r"[a-z0-9_-]{63}", v) for v in (first, second))
    assert first.startswith(common[:54] + "-")
    assert label_value("review_insights") == "review_insights"  # short names unchanged
    assert label_value("x" * 63) == "x" * 63


def test_progress_reports_state_changes_and_heartbeats_only() -> None:
    lines: list[str] = []
    progress = Progress(write=lines.append, heartbeat_seconds=3600)
    for state in ["JOB_STATE_PENDING", "JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_RUNNING"]:
        progress.job_state("m", "projects/p/locations/l/batchPredictionJobs/42", state, started=0.0)
    assert len(lines) == 2
    assert "job 42 PENDING" in lines[0] and "job 42 RUNNING" in lines[1]
    assert format_elapsed(3725) == "1:02:05"


def test_summary_names_given_up_and_running_work() -> None:
    text = summarize(
        [
            NodeOutcome(
                node="m", submitted_requests=10, jobs=["j"], succeeded=8, failed=2, exhausted=3, still_running=["j"]
            )
        ]
    )
    assert "m: 10 requests submitted in 1 job(s), 8 requests answered, 2 requests failed" in text
    assert "3 requests given up after max_attempts" in text
    assert "1 job(s) still running" in text
    assert summarize([]) == ""


def test_ledger_columns_match_the_dbt_ddl() -> None:
    ddl = (REPO / "macros/ledger/create_ledger_table.sql").read_text()
    declared = re.findall(r"^\s+\('(\w+)', '(string|int64|timestamp)'\),$", ddl, flags=re.MULTILINE)
    assert [(name, kind.upper()) for name, kind in declared] == list(COLUMNS.items())
    # every ledger column the hook writes is a field of LedgerEntry
    assert set(COLUMNS) == set(LedgerEntry.__dataclass_fields__)


def test_a_cloud_storage_job_of_another_dataset_with_the_same_model_name_is_not_this_caches() -> None:
    """Two targets (dev, prod datasets) of one project share the model's label and often the gcs_prefix; the input
    files of a Cloud Storage job name only the table, so its input label decides whose job it is."""
    from google.cloud import aiplatform_v1

    from gemini_batch.batch.submit import INPUT_LABEL, input_label, job_input_table
    from gemini_batch.dbt_project import BatchNode

    dev = BatchNode("model.shop.review_insights", "review_insights", "p", "dev", "review_insights")
    name = "review_insights__batch_20261207161735_e88dcd_000"

    def gcs_job(dataset: str) -> aiplatform_v1.BatchPredictionJob:
        job = aiplatform_v1.BatchPredictionJob(
            input_config={"gcs_source": {"uris": [f"gs://b/runs/{name}/input/part-000.jsonl"]}},
            labels={INPUT_LABEL: input_label(f"p.{dataset}.{name}"), "dbt_node": "review_insights"},
        )
        return job

    assert job_input_table(dev, gcs_job("dev")) == f"p.dev.{name}"
    assert job_input_table(dev, gcs_job("prod")) is None
    unlabelled = gcs_job("dev")
    del unlabelled.labels[INPUT_LABEL]
    assert job_input_table(dev, unlabelled) is None
    bigquery_job = aiplatform_v1.BatchPredictionJob(
        input_config={"bigquery_source": {"input_uri": f"bq://p.prod.{name}"}}
    )
    assert job_input_table(dev, bigquery_job) is None
    bigquery_job.input_config.bigquery_source.input_uri = f"bq://p.dev.{name}"
    assert job_input_table(dev, bigquery_job) == f"p.dev.{name}"
