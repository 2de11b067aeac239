"""The Vertex jobs' dbt_node label identifies the dbt model even when two model names share their first 63 characters,
and gemini_batch_usage carries the same value (node_label) for the billing join."""

from __future__ import annotations

import pytest
from google.cloud import aiplatform_v1

from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

COMMON = "classify_customer_support_tickets_by_product_area_and_urgency_v2"  # 64 characters


def test_two_long_model_names_keep_distinct_job_labels(
    demo: DemoProject, job_client: aiplatform_v1.JobServiceClient
) -> None:
    names = [f"{COMMON}_europe", f"{COMMON}_americas"]
    for name in names:
        demo.add_model(
            f"demo/batch/{name}.sql",
            "{{ config(materialized='gemini_batch') }}\n"
            "select review_id, {{ gemini_batch.request(prompt='review_text_clean') }} as request\n"
            "from {{ ref('stg_shop__reviews') }} where review_id in (select review_id from "
            "{{ ref('stg_shop__reviews') }} order by review_id limit 2)\n",
        )
    demo.gb("run", "--select", "+" + names[0], "+" + names[1])
    jobs = {job["dbt_node"].rsplit(".", 1)[-1]: job for job in demo.ledger()}
    labels = {
        name: job_client.get_batch_prediction_job(name=jobs[name]["job_name"]).labels["dbt_node"] for name in names
    }
    assert labels[names[0]] != labels[names[1]], labels
    assert all(len(label) <= 63 for label in labels.values())
    demo.dbt("run", "--select", "gemini_batch_job_history", "gemini_batch_usage")
    usage = demo.rows("select model_name, node_label from `{ds}.gemini_batch_usage`")
    assert {row["model_name"]: row["node_label"] for row in usage if row["model_name"] in labels} == labels
