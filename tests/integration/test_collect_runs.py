"""Runs that overlap, share a ledger or get a short output, on the demo project through dbt-gemini-batch (dbt-bigquery
-> bqemulator, aiplatform REST -> the Vertex emulator)."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject, set_emulator_config
from tests.integration.test_pipeline import BASELINE_FAULTS, distinct_prompts

pytestmark = pytest.mark.integration


@pytest.fixture()
def faults(local_stack: StackInfo) -> Iterator[None]:
    yield
    set_emulator_config(local_stack.vertex_endpoint, {**BASELINE_FAULTS, "drop_rows_rate": 0.0})


def test_two_submits_started_together_create_one_job(demo: DemoProject) -> None:
    demo.dbt("run", "--select", "+review_insights")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: demo.gb("submit", "--select", "review_insights"), range(2)))
    jobs = demo.ledger()
    assert len(jobs) == 1, "\n---\n".join(r.output[-2000:] for r in runs)
    # the other run waited for the submit lease, then found the job in flight instead of sending its rows again
    assert sum("submitted" in r.output and "request(s) pending" in r.output for r in runs) == 1
    demo.gb("collect", "--wait")
    prompts = distinct_prompts(demo)
    answered = demo.rows(
        "select count(*) as n, countif(status = '') as ok, max(attempts) as attempts "
        "from `{ds}.review_insights__responses`"
    )
    assert answered == [{"n": prompts, "ok": prompts, "attempts": 1}]
    # no lease left behind
    assert [t.table_id for t in demo.bq.list_tables(demo.dataset) if "lease" in t.table_id] == []


def test_a_job_that_succeeds_with_rows_missing_fails_the_run_and_leaves_them_pending(
    demo: DemoProject, local_stack: StackInfo, faults: None
) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"drop_rows_rate": 0.2})
    short = demo.gb("run", "--select", "+review_insights", ok=False)
    assert short.returncode == 1, short.output[-3000:]
    job = demo.ledger()[0]
    assert job["state"] == "JOB_STATE_SUCCEEDED"
    prompts = distinct_prompts(demo)
    missing = job["missing_count"]
    assert 0 < missing < prompts and job["succeeded_count"] == prompts - missing
    assert f"{missing} of the rows sent have no answer or failure in its output" in short.output
    # the run summary (printed table and target/gemini_batch_results.json) counts them as sent, not answered, pending
    (summary,) = json.loads((demo.root / "target" / "gemini_batch_results.json").read_text())["models"]
    assert (summary["sent"], summary["answered"], summary["pending"]) == (prompts, prompts - missing, missing)
    # the missing hashes stay pending: the next run sends exactly those, and ends well
    set_emulator_config(local_stack.vertex_endpoint, {"drop_rows_rate": 0.0})
    again = demo.gb("run", "--select", "+review_insights")
    assert f"{missing} request(s) pending" in again.output
    jobs = demo.ledger()
    assert [j["request_count"] for j in jobs] == [prompts, missing]
    assert demo.scalar("select countif(status = '') from `{ds}.review_insights__responses`") == prompts


def test_a_bad_ledger_dataset_var_is_refused_before_any_sql(demo: DemoProject) -> None:
    for bad in ("led`ger", "my ledger"):
        result = demo.dbt("run", "--select", "stg_shop__reviews", "--vars", f"{{gemini_batch_ledger_schema: '{bad}'}}",
                          ok=False)  # fmt: skip
        assert result.returncode != 0
        assert "var gemini_batch_ledger_schema) is not a BigQuery dataset name" in result.output, result.output[-2000:]
    assert not any(" " in d.dataset_id or "`" in d.dataset_id for d in demo.bq.list_datasets())


def test_two_targets_sharing_a_ledger_never_collect_each_others_jobs(
    tmp_path: Path, demo: DemoProject, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo,
    faults: None,
) -> None:  # fmt: skip
    shared = f"{{gemini_batch_ledger_schema: {demo.dataset}}}"
    other = DemoProject.copy(tmp_path / "other", stack_env, bq_client, local_stack.vertex_endpoint)
    other.dbt("seed", "--vars", shared)
    # target A submits and leaves its job in flight ...
    set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 30})
    demo.dbt("run", "--select", "+review_insights")
    demo.gb("submit", "--select", "review_insights")
    # ... target B, same model, same ledger, builds: it must submit its own job, not adopt A's
    set_emulator_config(local_stack.vertex_endpoint, {"queue_delay_seconds": 0.2})
    other.dbt("run", "--select", "+review_insights", "--vars", shared)
    built = other.gb("submit", "--select", "review_insights", "--wait", "--vars", shared)
    assert "from an earlier run" not in built.output
    jobs = demo.ledger()  # the shared ledger
    caches = {j["responses_table"]: j for j in jobs}
    ours, theirs = demo.table("review_insights__responses"), other.table("review_insights__responses")
    assert set(caches) == {ours, theirs}
    assert caches[theirs]["collected_at"] is not None and caches[ours]["collected_at"] is None
    prompts = distinct_prompts(other)
    assert other.scalar("select countif(status = '') from `{ds}.review_insights__responses`") == prompts
    assert demo.scalar("select count(*) from `{ds}.review_insights__responses`") == 0
    demo.gb("cancel", "--select", "review_insights")


def test_two_runners_past_their_checks_at_once_still_create_one_job(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same race as above, made certain: two runners (two owners, as two processes) both pass the "jobs in
    flight?" check before either submits. The barrier sits where the submit step starts; with the lease the second
    runner only gets there after the first submitted, and attaches to its job."""
    from gemini_batch.batch.flight import Flights
    from gemini_batch.dbt_project import DbtFlags
    from gemini_batch.session import Session

    demo.dbt("run", "--select", "+review_insights")
    for key, value in demo.env.items():
        monkeypatch.setenv(key, value)
    flags = DbtFlags.from_args(["--project-dir", str(demo.root), "--profiles-dir", str(demo.root)])
    sessions = [Session.open(flags) for _ in range(2)]
    barrier = threading.Barrier(2)
    submit = Flights._submit_exclusively

    def submit_together(self: Flights, *args: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)  # both runners have looked for jobs in flight and found none
        return submit(self, *args)

    monkeypatch.setattr(Flights, "_submit_exclusively", submit_together)

    def run(session: Session) -> Any:
        node = next(n for n in session.manifest.nodes.values() if n.name == "review_insights")
        return session.runner.process(node, session.settings(node), wait=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(run, sessions))
    assert len(demo.ledger()) == 1
    assert sorted(o.submitted_requests for o in outcomes) == [0, distinct_prompts(demo)]
    assert all(o.errors == [] for o in outcomes)
    assert demo.scalar("select max(attempts) from `{ds}.review_insights__responses`") == 1
