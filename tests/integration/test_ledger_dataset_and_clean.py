"""The ledger's dataset is created by on-run-start when it does not exist yet, and `clean` never drops the job tables
a model keeps on purpose (`keep_job_tables: true`)."""

from __future__ import annotations

import uuid

import pytest
from google.api_core.exceptions import NotFound

from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration


def test_a_ledger_dataset_that_does_not_exist_yet_is_created(demo: DemoProject) -> None:
    ledger_dataset = f"ledger_{uuid.uuid4().hex[:8]}"
    with pytest.raises(NotFound):  # BigQuery (and the local one) answer 404 listing a missing dataset's tables
        list(demo.bq.list_tables(f"{demo.bq.project}.{ledger_dataset}"))
    try:
        demo.dbt("run", "--select", "stg_shop__reviews", "--vars", f"{{gemini_batch_ledger_schema: {ledger_dataset}}}")
        table = demo.bq.get_table(f"{demo.bq.project}.{ledger_dataset}.gemini_batch_jobs")
        assert "input_table" in {f.name for f in table.schema}
    finally:
        demo.bq.delete_dataset(f"{demo.bq.project}.{ledger_dataset}", delete_contents=True, not_found_ok=True)


def test_clean_never_drops_the_job_tables_a_model_keeps(demo: DemoProject) -> None:
    demo.add_review_model_meta("'keep_job_tables': True")
    demo.gb("run", "--select", "+review_insights")
    (job,) = demo.ledger()
    assert job["collected_at"] is not None
    kept = {job["input_table"], job["output_table"]}
    cleaned = demo.gb("clean", "--select", "review_insights", "--older-than", "0")
    assert "review_insights: 0 leftover table(s) dropped" in cleaned.output, cleaned.output
    for table in kept:
        demo.bq.get_table(table)  # still there
