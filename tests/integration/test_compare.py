"""`dbt-gemini-batch compare` (issue 20 item 2) through the real clients on the local stack: a sample asked under a
variant (another Gemini model, another prompt), its agreement and cost against the current answers, the table
m__comparisons, the guards, and the sampled answers reused when the model switches."""

from __future__ import annotations

import json

import pytest

from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

MODEL = "review_insights"


def read_compare(demo: DemoProject) -> dict:
    return json.loads((demo.root / "target" / "gemini_batch_compare.json").read_text())


def test_compare_a_model_and_a_prompt_on_a_sample(demo: DemoProject) -> None:
    demo.gb("run", "--select", f"+{MODEL}")
    jobs = len(demo.ledger())

    out = demo.gb("compare", "--select", MODEL, "--sample", "50", "--gemini-model", "gemini-2.5-flash-lite")
    assert "likely $" in out.output.split("agree")[0]  # the cost is said before the answers are compared
    report = read_compare(demo)
    assert (report["sampled"], report["variant_answered"]) == (50, 50)
    assert set(report["agreement_by_field"]) == {"sentiment", "topics", "summary"}
    assert all(0 <= share <= 1 for share in report["agreement_by_field"].values())
    for side in ("current", "variant"):
        assert report["per_1000_rows"][side]["cost_usd"] > 0 and report["per_1000_rows"][side]["output_tokens"] > 0
    # flash-lite does not think by default: its answers cost less per row than flash's
    assert report["per_1000_rows"]["variant"]["cost_usd"] < report["per_1000_rows"]["current"]["cost_usd"]
    switch = report["switch"]
    sent = int(demo.scalar("select count(distinct variant_request_hash) from `{ds}.review_insights__comparisons`"))
    assert 45 <= sent <= 50  # identical review texts share a request
    assert switch["already_answered_under_variant"] == sent
    assert switch["to_send"] == switch["distinct_requests"] - sent and switch["projected_cost_usd"] > 0
    ledger = demo.ledger()
    assert len(ledger) == jobs + 1 and ledger[-1]["request_count"] == sent
    assert ledger[-1]["gemini_model"].endswith("gemini-2.5-flash-lite")
    rows = demo.rows("select * from `{ds}.review_insights__comparisons`")
    assert len(rows) == 50 and {r["variant"] for r in rows} == {"gemini_model=gemini-2.5-flash-lite"}
    assert sum(1 for r in rows if not r["agrees"]) == round(report["changed_share"] * 50)

    # the same compare again pays nothing: the sampled answers are cached
    demo.gb("compare", "--select", MODEL, "--sample", "50", "--gemini-model", "gemini-2.5-flash-lite")
    assert len(demo.ledger()) == jobs + 1
    assert int(demo.scalar("select count(*) from `{ds}.review_insights__comparisons`")) == 50

    # another prompt, given as a dbt model; switching the model to it later does not pay for the sample again
    source = (demo.root / "models" / "demo" / "batch" / f"{MODEL}.sql").read_text()
    reworded = source.replace("Classify", "Please classify", 1)
    demo.add_model("demo/batch/review_insights_reworded.sql", reworded.replace("'gemini_batch'", "'view'", 1))
    demo.gb("compare", "--select", MODEL, "--sample", "20", "--from-model", "review_insights_reworded")
    report = read_compare(demo)
    assert report["variant_answered"] == 20 and report["variant"]["from_model"] == "review_insights_reworded"
    reworded_sent = report["switch"]["already_answered_under_variant"]
    assert int(demo.scalar("select count(distinct variant) from `{ds}.review_insights__comparisons`")) == 2
    (demo.root / "models" / "demo" / "batch" / f"{MODEL}.sql").write_text(reworded)
    demo.gb("plan", "--select", MODEL)
    plan = json.loads((demo.root / "target" / "gemini_batch_plan.json").read_text())["models"][0]
    assert plan["answered"] == reworded_sent and plan["to_send"] == plan["distinct_requests"] - reworded_sent


def test_compare_is_guarded_and_needs_a_variant(demo: DemoProject) -> None:
    demo.gb("run", "--select", f"+{MODEL}")
    jobs = len(demo.ledger())
    none = demo.gb("compare", "--select", MODEL, ok=False)
    assert none.returncode == 2 and "needs a variant" in none.output
    demo.add_review_model_meta("'max_requests_per_run': 10")
    demo.dbt("run", "--select", MODEL)
    stopped = demo.gb("compare", "--select", MODEL, "--sample", "30", "--gemini-model", "gemini-2.5-pro", ok=False)
    assert stopped.returncode == 1 and "max_requests_per_run=10" in stopped.output
    assert len(demo.ledger()) == jobs
