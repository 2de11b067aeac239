"""Cascades (issue 20 item 3) through the real clients on the local stack: the rows whose first answer matches
escalate_when, and only those, are asked again of escalate_to in the same `dbt-gemini-batch run`; the view shows the
final answer and answered_by; the ledger, the usage model and the run summary tell the tiers apart."""

from __future__ import annotations

import json

import pytest

from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

FIRST, SECOND = "gemini-2.5-flash-lite", "gemini-2.5-flash"
CASCADE_MODEL = f"""{{{{ config(materialized='gemini_batch', meta={{
    'gemini_model': '{FIRST}',
    'escalate_to': '{SECOND}',
    'escalate_when': "output_state != 'answered' or confidence < 0.7",
    'output_schema': 'sentiment STRING, confidence FLOAT64',
}}) }}}}
select review_id, {{{{ gemini_batch.request(prompt='review_text_clean') }}}} as request
from {{{{ ref('stg_shop__reviews') }}}}
"""

# What the first model answered, per distinct request, read from the answer cache itself (not from the view).
FIRST_ANSWERS = """
    select distinct requests.request_hash, requests.escalation_hash,
        safe_cast(json_value(json_value(responses.response, '$.candidates[0].content.parts[0].text'), '$.confidence')
            as float64) as confidence
    from `{ds}.cascade_reviews__requests` as requests
    join `{ds}.cascade_reviews__responses` as responses using (request_hash)
    where responses.status = ''
"""


def test_a_cascade_asks_the_second_model_only_for_matching_rows(demo: DemoProject) -> None:
    demo.add_model("demo/batch/cascade_reviews.sql", CASCADE_MODEL)
    demo.gb("run", "--select", "+cascade_reviews")

    first = demo.rows(FIRST_ANSWERS)
    matching = {r["escalation_hash"] for r in first if r["confidence"] is None or r["confidence"] < 0.7}
    assert 0 < len(matching) < len(first), "the emulator's confidences should put some rows on each side"
    jobs = demo.ledger()
    by_model = {m: [j for j in jobs if j["gemini_model"].endswith(m)] for m in (FIRST, SECOND)}
    assert sum(j["request_count"] for j in by_model[FIRST]) == len(first)
    assert sum(j["request_count"] for j in by_model[SECOND]) == len(matching)  # only the matching rows
    assert {j["dbt_node"] for j in by_model[SECOND]} == {j["dbt_node"] + "__escalated" for j in by_model[FIRST]}

    view = demo.rows("select request_hash, escalation_hash, answered_by, output_state from `{ds}.cascade_reviews`")
    assert {r["answered_by"] for r in view} == {FIRST, SECOND}
    for row in view:
        assert row["answered_by"] == (SECOND if row["escalation_hash"] in matching else FIRST), row
        assert row["output_state"] == "answered"

    summary = json.loads((demo.root / "target" / "gemini_batch_results.json").read_text())["models"]
    rows = {r["model"]: r for r in summary}
    tier1, tier2 = rows["cascade_reviews"], rows["cascade_reviews__escalated"]
    assert (tier1["sent"], tier2["sent"]) == (len(first), len(matching))
    assert tier2["gemini_model"] == SECOND and tier2["estimated_cost_usd"] > 0
    # asking the second model for every row would have cost more than both tiers together
    assert tier1["cascade_saving_usd"] > 0
    assert tier1["cascade_all_second_model_usd"] > tier1["estimated_cost_usd"] + tier2["estimated_cost_usd"]

    # an unchanged re-run sends nothing to either model and escalates nothing again
    demo.gb("run", "--select", "cascade_reviews")
    assert len(demo.ledger()) == len(jobs)
    assert demo.scalar("select count(*) from `{ds}.cascade_reviews__escalations`") == len(matching)

    # the usage model has a row per tier
    demo.dbt("run", "--select", "+gemini_batch_usage")
    usage = demo.rows("select gemini_model, requests from `{ds}.gemini_batch_usage` where dbt_node like '%cascade%'")
    assert {r["gemini_model"].rsplit("/", 1)[-1] for r in usage} == {FIRST, SECOND}


def test_escalate_to_without_escalate_when_stops_the_model_before_anything_is_built(demo: DemoProject) -> None:
    demo.add_review_batch_model("half_cascade", f"meta={{'escalate_to': '{SECOND}'}}")
    result = demo.dbt("run", "--select", "+half_cascade", ok=False)
    assert result.returncode != 0
    assert "escalate_to needs escalate_when" in result.output
    assert (
        demo.rows("select table_name from `{ds}.INFORMATION_SCHEMA.TABLES` where table_name like 'half_cascade%'") == []
    )
