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
