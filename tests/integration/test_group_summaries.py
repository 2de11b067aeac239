"""Group summaries (issue 20 item 4) through the real clients on the local stack: the demo's reviews summarised per
product in two batch rounds (chunks, then a summary of the chunk summaries) by one `dbt-gemini-batch run`, and a
change to one product's reviews re-asks that product only."""

from __future__ import annotations

import pytest

from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

CHUNKS = """{{ config(materialized='gemini_batch', meta={'gemini_model': 'gemini-2.5-flash-lite'}) }}
select
    group_key,
    chunk,
    rows_in_chunk,
    {{ gemini_batch.request(
        prompt="concat('Summarise what these customer reviews say about the product:\\\\n', chunk_text)") }} as request
from ({{ gemini_batch.group_chunks(ref('stg_shop__reviews'), 'product_id', 'review_text_clean', 'review_id',
    max_chars=1300) }})
"""
COMBINED = """{{ config(materialized='gemini_batch', meta={'gemini_model': 'gemini-2.5-flash-lite'}) }}
select
    group_key,
    {{ gemini_batch.request(
        prompt="concat('Combine these partial summaries into one:\\\\n', summaries_text)") }} as request
from ({{ gemini_batch.group_summary_inputs(ref('product_review_chunks')) }})
"""
FINAL = """{{ config(materialized='view') }}
{{ gemini_batch.group_summaries(ref('product_review_chunks'), ref('product_review_summaries')) }}
"""


def requests_sent(demo: DemoProject, model: str) -> int:
    return sum(j["request_count"] for j in demo.ledger() if j["dbt_node"].endswith("." + model))


def test_group_summaries_in_batch_rounds_re_ask_only_changed_groups(demo: DemoProject) -> None:
    demo.add_model("demo/groups/product_review_chunks.sql", CHUNKS)
    demo.add_model("demo/groups/product_review_summaries.sql", COMBINED)
    demo.add_model("demo/groups/product_summaries.sql", FINAL)
    demo.gb("run", "--select", "+product_summaries")

    chunks = demo.rows("select group_key, chunk, rows_in_chunk from `{ds}.product_review_chunks`")
    groups = {r["group_key"] for r in chunks}
    several = {g for g in groups if sum(1 for r in chunks if r["group_key"] == g) > 1}
    assert several and several != groups  # both kinds of group on the demo's reviews with 1,300 characters a chunk
    assert sum(r["rows_in_chunk"] for r in chunks) == int(demo.scalar("select count(*) from `{ds}.stg_shop__reviews`"))
    assert requests_sent(demo, "product_review_chunks") == len(chunks)
    assert requests_sent(demo, "product_review_summaries") == len(several)  # one summary of summaries per big group

    final = {r["group_key"]: r for r in demo.rows("select * from `{ds}.product_summaries`")}
    assert set(final) == groups
    for key, row in final.items():
        assert row["summary"], row
        assert row["summarised_by"] == ("combined" if key in several else "chunk")

    # one product gets a review: its last chunk (or a new one) and its combined summary are asked, nothing else
    chunks_before, combined_before = (
        requests_sent(demo, "product_review_chunks"),
        requests_sent(demo, "product_review_summaries"),
    )
    demo.append_reviews(["an added review: the strap broke after a week"])  # product 1
    demo.dbt("seed")
    demo.gb("run", "--select", "+product_summaries")
    assert requests_sent(demo, "product_review_chunks") - chunks_before == 1
    product_chunks = int(demo.scalar("select count(*) from `{ds}.product_review_chunks` where group_key = '1'"))
    assert requests_sent(demo, "product_review_summaries") - combined_before == (1 if product_chunks > 1 else 0)
    after = {r["group_key"]: r for r in demo.rows("select * from `{ds}.product_summaries`")}
    assert {k for k in groups if after[k]["summary"] != final[k]["summary"]} <= {"1"}
    assert after["1"]["summary"]
