"""The demo's batch model on output_schema, through dbt-bigquery on the local stack: the request carries the
responseSchema derived from it (enums as the project's vars give them), the view has the typed columns, and the
demo's dbt unit test of int_reviews__classified (one row per output_state) runs and passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

UNIT_TEST = "int_reviews__classified_gives_every_answer_one_status"


def test_demo_asks_for_the_output_schema_and_reads_typed_columns(
    tmp_path: Path, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo
) -> None:
    demo = DemoProject.copy(tmp_path / "demo", stack_env, bq_client, local_stack.vertex_endpoint)
    try:
        demo.dbt("seed", "--select", "shop_reviews")
        demo.dbt("run", "--select", "stg_shop__reviews", "review_insights")
        project_vars = yaml.safe_load((demo.root / "dbt_project.yml").read_text())["vars"]

        request = json.loads(demo.scalar("select request from `{ds}.review_insights__requests` limit 1"))
        schema = request["generationConfig"]["responseSchema"]
        assert request["generationConfig"]["responseMimeType"] == "application/json"
        assert schema["properties"]["sentiment"]["enum"] == project_vars["review_sentiments"]
        assert schema["properties"]["topics"]["items"] == {"type": "STRING", "enum": project_vars["review_topics"]}
        assert schema["required"] == ["sentiment", "topics", "summary"]

        types = {f.name: (f.field_type, f.mode) for f in demo.bq.get_table(demo.table("review_insights")).schema}
        assert types["sentiment"] == ("STRING", "NULLABLE")
        assert types["topics"] == ("STRING", "REPEATED")
        assert types["summary"] == ("STRING", "NULLABLE")
        assert {"output_state", "output_error", "given_up"} <= types.keys()

        demo.dbt("test", "--select", UNIT_TEST)
        results = json.loads((demo.root / "target" / "run_results.json").read_text())["results"]
        unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
        assert [(r["unique_id"].rsplit(".", 1)[-1], r["status"]) for r in unit_tests] == [(UNIT_TEST, "pass")]
    finally:
        bq_client.delete_dataset(demo.dataset, delete_contents=True, not_found_ok=True)
