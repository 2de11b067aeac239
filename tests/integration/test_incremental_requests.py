"""incremental_requests: a model's SQL gives only new or changed rows (gemini_batch.is_incremental_requests()),
m__requests keeps the others, and only the new rows are sent."""

from __future__ import annotations

from tests.integration.demo_project import DemoProject

MODEL = (
    "{{ config(materialized='gemini_batch', meta={'incremental_requests': true, 'unique_key': 'review_id'}) }}\n"
    "select review_id, {{ gemini_batch.request(prompt=\"concat('Rate: ', review_text_clean)\") }} as request\n"
    "from {{ ref('stg_shop__reviews') }}\n"
    "{% if gemini_batch.is_incremental_requests() %}\n"
    "where review_id > (select max(review_id) from {{ this }})\n"
    "{% endif %}\n"
)


def test_an_incremental_model_reads_only_new_rows_and_keeps_the_others(demo: DemoProject) -> None:
    demo.add_model("demo/batch/incremental_reviews.sql", MODEL)
    demo.gb("run", "--select", "+incremental_reviews")
    reviews = int(demo.scalar("select count(*) from `{ds}.incremental_reviews__requests`"))
    assert reviews > 0
    assert int(demo.scalar("select countif(status = '') from `{ds}.incremental_reviews`")) == reviews

    # unchanged: the model's SQL gives no row, m__requests keeps every row, nothing is sent
    again = demo.gb("run", "--select", "+incremental_reviews")
    assert "0 requests pending" in again.output
    assert int(demo.scalar("select count(*) from `{ds}.incremental_reviews__requests`")) == reviews
    assert len(demo.ledger()) == 1

    # three new reviews: the model's SQL gives only those (review_id above the last one), the old rows stay and
    # are answered, and exactly the three are sent
    demo.append_reviews([f"Added review {i}: the handle came loose." for i in range(3)])
    demo.dbt("seed")
    demo.gb("run", "--select", "+incremental_reviews")
    assert int(demo.scalar("select count(*) from `{ds}.incremental_reviews__requests`")) == reviews + 3
    jobs = demo.ledger()
    assert len(jobs) == 2 and jobs[1]["request_count"] == 3
    assert int(demo.scalar("select countif(status = '') from `{ds}.incremental_reviews`")) == reviews + 3

    # --full-refresh: the model's SQL gives every row again, and nothing answered is sent again
    demo.gb("run", "--select", "incremental_reviews", "--full-refresh")
    assert int(demo.scalar("select count(*) from `{ds}.incremental_reviews__requests`")) == reviews + 3
    assert len(demo.ledger()) == 2
