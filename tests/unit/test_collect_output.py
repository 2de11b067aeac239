"""Where collect looks for a job's answers: the table the hook named, then outputInfo.bigqueryOutputTable in either the
documented bare `predictions_<timestamp>` form or a full `bq://project.dataset.table` URI."""

from __future__ import annotations

from google.cloud import aiplatform_v1

from gemini_batch.batch.collect import output_candidates
from gemini_batch.ledger import LedgerEntry

NAMED = "p.ds.m__batch_20260101000000_abcdef_000_out"


def _entry() -> LedgerEntry:
    return LedgerEntry(
        display_name="d", dbt_node="model.x.m", responses_table="p.ds.m__responses", gemini_model="g",
        vertex_project="p", vertex_location="us-central1", input_table=NAMED.removesuffix("_out"),
        request_count=1, output_table=NAMED,
    )  # fmt: skip


def _job(table: str, dataset: str = "") -> aiplatform_v1.BatchPredictionJob:
    info = aiplatform_v1.BatchPredictionJob.OutputInfo(bigquery_output_table=table, bigquery_output_dataset=dataset)
    return aiplatform_v1.BatchPredictionJob(output_info=info)


def test_the_named_table_comes_first_and_a_bare_reported_name_is_qualified() -> None:
    assert output_candidates(_entry(), _job(f"bq://{NAMED}")) == [NAMED]
    assert output_candidates(_entry(), _job("bq://p.other.t")) == [NAMED, "p.other.t"]
    assert output_candidates(_entry(), _job("predictions_2026_01_01T00_00_00")) == [
        NAMED,
        "p.ds.predictions_2026_01_01T00_00_00",
    ]
    assert output_candidates(_entry(), _job("predictions_1", dataset="bq://p.out_ds")) == [
        NAMED,
        "p.out_ds.predictions_1",
    ]
    assert output_candidates(_entry(), _job("")) == [NAMED]


def test_job_labels_name_the_dbt_project_model_and_invocation() -> None:
    """Batch job labels join to the billing export: project, model and invocation, all valid Vertex label values."""
    from types import SimpleNamespace

    from gemini_batch.batch.submit import job_body
    from gemini_batch.dbt_project import BatchNode
    from gemini_batch.ledger import LedgerEntry
    from gemini_batch.settings import BatchSettings

    node = BatchNode("model.Shop_Analytics.review_insights", "review_insights", "p", "d", "review_insights")
    entry = LedgerEntry(
        display_name="review_insights",
        dbt_node=node.unique_id,
        responses_table="p.d.review_insights__responses",
        gemini_model="gemini-2.5-flash",
        vertex_project="p",
        vertex_location="us-central1",
        input_table="p.d.review_insights__batch_x_000",
        request_count=1,
    )
    ctx = SimpleNamespace(invocation_id="0f9c-INV")
    labels = dict(job_body(ctx, node, BatchSettings(), entry).labels)  # type: ignore[arg-type]
    assert labels["dbt_project"] == "shop_analytics"
    assert labels["dbt_node"] == "review_insights"
    assert labels["dbt_invocation"] == "0f9c-inv"
