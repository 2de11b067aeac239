"""Collection and the ledger under concurrency, repeats and bad output, through google-cloud-bigquery on the local
BigQuery: the ledger's append-only writes, the exactly-once merge, the output checked against what was sent, and the
identifiers that reach SQL.

The jobs here are hand-made BigQuery tables shaped as Vertex writes them (input: request_hash, request; output: the
same plus response, status, processed_time) and BatchPredictionJob messages of aiplatform_v1, so each test controls
exactly which rows an output holds.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.batch import collect as collect_step
from gemini_batch.batch import plan
from gemini_batch.batch.common import NodeOutcome
from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import COLUMNS, Ledger, LedgerEntry, LedgerError
from gemini_batch.progress import Progress
from gemini_batch.settings import BatchSettings

pytestmark = pytest.mark.integration

JOB = "projects/local-project/locations/us-central1/batchPredictionJobs/{}"


def _create_ledger(bq: bigquery.Client, dataset: str) -> Ledger:
    table = f"{bq.project}.{dataset}.gemini_batch_jobs"
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS.items())
    bq.query(f"create table `{table}` ({columns})").result()
    return Ledger(bq, table)


def _entry(bq: bigquery.Client, dataset: str, i: int, responses: str = "m__responses") -> LedgerEntry:
    return LedgerEntry(
        display_name=f"job {i}",
        dbt_node="model.p.m",
        responses_table=f"{bq.project}.{dataset}.{responses}",
        gemini_model="gemini-2.5-flash",
        vertex_project=bq.project,
        vertex_location="us-central1",
        input_table=f"{bq.project}.{dataset}.m__batch_{i:03d}",
        request_count=10,
    )


def test_ledger_updates_from_many_threads_all_land(bq_client: bigquery.Client, dataset: str) -> None:
    ledger = _create_ledger(bq_client, dataset)
    entries = [_entry(bq_client, dataset, i) for i in range(24)]

    def life(entry: LedgerEntry) -> None:
        # one job's life, while 23 others live theirs on the same table
        ledger.insert(entry)
        ledger.update(entry, job_name=JOB.format(entry.display_name[4:]), state="JOB_STATE_PENDING")
        ledger.update(entry, state="JOB_STATE_RUNNING")
        ledger.update(entry, state="JOB_STATE_SUCCEEDED", succeeded_count=10, collected_at=dt.datetime.now(dt.UTC))

    with ThreadPoolExecutor(max_workers=12) as pool:
        for future in [pool.submit(life, e) for e in entries]:
            future.result()

    # every job's last update is its state ...
    latest = bq_client.query(f"select * from ({ledger.latest_sql()})").result()
    states = {
        row["input_table"]: (row["state"], row["succeeded_count"], row["collected_at"] is not None) for row in latest
    }
    assert states == {e.input_table: ("JOB_STATE_SUCCEEDED", 10, True) for e in entries}
    # ... and every write is an appended event: no statement mutated a row in place (an UPDATE would, and BigQuery
    # fails concurrent UPDATEs beyond two per table)
    events = bq_client.query(f"select count(*) as n from `{ledger.table}`").result()
    assert next(iter(events))["n"] == 4 * len(entries)
    # nothing in flight: no job of this cache is uncollected
    assert ledger.uncollected("model.p.m", entries[0].responses_table) == []


def test_a_ledger_shared_by_two_answer_caches_keeps_their_jobs_apart(bq_client: bigquery.Client, dataset: str) -> None:
    ledger = _create_ledger(bq_client, dataset)
    ours, theirs = _entry(bq_client, dataset, 1, "m__responses"), _entry(bq_client, dataset, 2, "other_m__responses")
    ledger.insert(ours)
    ledger.insert(theirs)  # the same dbt node (unique_id) built by another target into another dataset
    assert [e.input_table for e in ledger.uncollected("model.p.m", ours.responses_table)] == [ours.input_table]
    assert [e.input_table for e in ledger.uncollected("model.p.m", theirs.responses_table)] == [theirs.input_table]
    assert ledger.current(theirs) is not None
    assert ledger.current(_entry(bq_client, dataset, 2, "m__responses")) is None


@pytest.mark.parametrize(
    "table",
    [
        "local-project.ledger` where true; --.gemini_batch_jobs",
        "local-project.my ledger.gemini_batch_jobs",
        "local-project.ledger-ds.gemini_batch_jobs",
        "Local_Project.ledger.gemini_batch_jobs",
        "ledger.gemini_batch_jobs",
    ],
)
def test_a_bad_ledger_identifier_is_refused_before_any_sql(table: str) -> None:
    class NoQueries:
        def query(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("a query was sent")

    with pytest.raises(LedgerError, match="job ledger"):
        Ledger(NoQueries(), table)  # type: ignore[arg-type]


# -- collection -----------------------------------------------------------------------------------------------------


def _request(text: str) -> str:
    return json.dumps({"contents": [{"role": "user", "parts": [{"text": text}]}]})


def _answer(text: str) -> str:
    return json.dumps(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}}
    )  # fmt: skip


class Job:
    """One hand-made job: its input table, output table and ledger entry, and the context to collect it with."""

    def __init__(self, bq: bigquery.Client, dataset: str, name: str) -> None:
        self.bq = bq
        self.node = BatchNode("model.p.m", "m", bq.project, dataset, "m")
        self.lines: list[str] = []
        self.ledger = Ledger(bq, f"{bq.project}.{dataset}.gemini_batch_jobs")
        self.ctx = BatchContext(bq, self.ledger, lambda s, loc: None, "us-central1",  # type: ignore[arg-type,return-value]
                                progress=Progress(self.lines.append))  # fmt: skip
        self.input = f"{bq.project}.{dataset}.m__batch_{name}"
        self.output = f"{self.input}_out"
        self.name = JOB.format(name)
        self.entry = LedgerEntry(
            display_name=name, dbt_node=self.node.unique_id, responses_table=self.node.responses_table,
            gemini_model="gemini-2.5-flash", vertex_project=bq.project, vertex_location="us-central1",
            input_table=self.input, output_table=self.output, request_count=0, job_name=self.name,
        )  # fmt: skip

    def sql(self, sql: str, params: list[bigquery.ScalarQueryParameter] | None = None) -> list[dict[str, object]]:
        config = bigquery.QueryJobConfig(query_parameters=params or [])
        return [dict(r) for r in self.bq.query(sql, job_config=config).result()]

    def write(self, sent: dict[str, str], output: list[tuple[str, str, str | None, str]]) -> None:
        """sent: hash -> request; output rows: (hash, echoed request, response or None, status)."""
        self.sql(f"create table if not exists `{self.node.responses_table}` (request_hash string, request string, "
                 "response json, status string, processed_time timestamp, job_name string, attempts int64, "
                 "updated_at timestamp)")  # fmt: skip
        self.sql(f"create table `{self.input}` (request_hash string, request string)")
        self.sql(f"create table `{self.output}` (request_hash string, request string, response json, "
                 "status string, processed_time timestamp)")  # fmt: skip
        for h, request in sent.items():
            self.sql(f"insert into `{self.input}` values (@h, @r)",
                     [bigquery.ScalarQueryParameter("h", "STRING", h),
                      bigquery.ScalarQueryParameter("r", "STRING", request)])  # fmt: skip
        for h, request, response, status in output:
            self.sql(
                f"insert into `{self.output}` values (@h, @r, safe.parse_json(@a), @s, current_timestamp())",
                [bigquery.ScalarQueryParameter("h", "STRING", h), bigquery.ScalarQueryParameter("r", "STRING", request),
                 bigquery.ScalarQueryParameter("a", "STRING", response),
                 bigquery.ScalarQueryParameter("s", "STRING", status)],
            )  # fmt: skip
        self.entry.request_count = len(sent)
        self.ledger.insert(self.entry)

    def collect(
        self, settings: BatchSettings | None = None, state: str = "JOB_STATE_SUCCEEDED", error: str = ""
    ) -> NodeOutcome:
        outcome = NodeOutcome("m")
        job = aiplatform_v1.BatchPredictionJob(
            name=self.name, state=aiplatform_v1.JobState[state], error={"code": 13, "message": error} if error else None
        )
        collect_step.collect(self.ctx, self.node, settings or BatchSettings(keep_job_tables=True), self.entry, job,
                             outcome)  # fmt: skip
        return outcome

    def responses(self) -> dict[str, tuple[str, int, str]]:
        rows = self.sql(f"select request_hash, status, attempts, job_name from `{self.node.responses_table}`")
        return {str(r["request_hash"]): (str(r["status"]), int(r["attempts"]), str(r["job_name"])) for r in rows}  # type: ignore[call-overload]


@pytest.fixture()
def ledger_dataset(bq_client: bigquery.Client, dataset: str) -> str:
    _create_ledger(bq_client, dataset)
    return dataset


def test_merging_a_job_twice_changes_nothing_even_after_a_kill_before_the_ledger_update(
    bq_client: bigquery.Client, ledger_dataset: str
) -> None:
    job = Job(bq_client, ledger_dataset, "twice")
    sent = {"h1": _request("one"), "h2": _request("two"), "h3": _request("three")}
    job.write(sent, [("h1", sent["h1"], _answer("1"), ""), ("h2", sent["h2"], "{}", "RESOURCE_EXHAUSTED"),
                     ("h3", sent["h3"], "{}", "INTERNAL")])  # fmt: skip
    # a run merges the output and is killed before the ledger says "collected"
    collect_step.merge_output(job.ctx, job.node, job.output, job.name, job.input)
    after_merge = job.responses()
    assert after_merge == {"h1": ("", 1, job.name), "h2": ("RESOURCE_EXHAUSTED", 1, job.name),
                           "h3": ("INTERNAL", 1, job.name)}  # fmt: skip
    assert job.ledger.current(job.entry).collected_at is None  # type: ignore[union-attr]
    # the next run finds the job uncollected and collects it: the failed rows' attempt is counted once
    outcome = job.collect()
    assert job.responses() == after_merge
    assert (outcome.succeeded, outcome.failed, outcome.errors) == (1, 2, [])
    current = job.ledger.current(job.entry)
    assert current is not None and current.collected_at is not None and current.succeeded_count == 1
    # and merging once more still changes nothing
    collect_step.merge_output(job.ctx, job.node, job.output, job.name, job.input)
    assert job.responses() == after_merge
    # a collector that comes after one that finished merges nothing and counts nothing
    late = job.collect()
    assert (late.succeeded, late.failed) == (0, 0)
    assert any("collected by another run" in line for line in job.lines)


def test_answers_are_matched_by_hash_alone_and_unmatched_rows_are_counted_and_named(
    bq_client: bigquery.Client, ledger_dataset: str
) -> None:
    job = Job(bq_client, ledger_dataset, "short")
    sent = {f"h{i}": _request(f"text {i}") for i in range(5)}
    job.write(sent, [
        ("h0", sent["h0"], _answer("0"), ""),
        ("h1", sent["h1"], _answer("1"), ""),
        # Vertex's echo, rewritten (keys sorted, absent part fields as null): still the answer to h2
        ("h2", json.dumps(json.loads(sent["h2"]) | {"labels": {"x": "y"}}, sort_keys=True), _answer("2"), ""),
        ("hx", _request("never sent"), _answer("x"), ""),  # a hash this job did not send
        ("", _request("no key"), _answer("y"), ""),  # a row whose key did not come back
        # h3 and h4: no row at all
    ])  # fmt: skip
    outcome = job.collect()
    assert set(job.responses()) == {"h0", "h1", "h2"}  # h3, h4 stay pending (no row in the cache)
    cached = job.sql(f"select request from `{job.node.responses_table}` where request_hash = 'h2'")
    assert cached == [{"request": sent["h2"]}]  # the request sent is cached, not Vertex's echo of it
    assert outcome.succeeded == 3 and outcome.missing == 2
    assert len(outcome.errors) == 1 and "2 of the rows sent have no answer" in outcome.errors[0]
    assert any(
        line.startswith("gemini_batch: WARNING m: 2 output row(s) of batch job short name no request sent")
        and line.endswith("keys: (no key), hx")
        for line in job.lines
    ), job.lines
    current = job.ledger.current(job.entry)
    assert current is not None and (current.missing_count, current.mismatched_count) == (2, 2)
    # Google bills every row it answered: the unmatched rows' tokens are in the ledger too
    assert (current.prompt_tokens, current.output_tokens, current.total_tokens) == (15, 10, 25)

    # on_missing_answers=warn: reported, not an error
    warned = Job(bq_client, ledger_dataset, "warned")
    warned.write({"w1": _request("w")}, [])
    outcome = warned.collect(BatchSettings(keep_job_tables=True, on_missing_answers="warn"))
    assert outcome.errors == [] and outcome.missing == 1
    assert any(line.startswith("gemini_batch: WARNING m: batch job warned succeeded but 1 of") for line in warned.lines)


def test_a_row_whose_key_column_came_back_empty_is_matched_by_the_hash_labels_in_its_echo(
    bq_client: bigquery.Client, ledger_dataset: str
) -> None:
    """The output is first read without Vertex's echo of the request (most of its bytes); a row whose request_hash
    column is empty sends the collect back for the echo, whose labels carry the hash (collect.output_key_sql)."""
    job = Job(bq_client, ledger_dataset, "labels")
    labelled = "a" * 32 + "b" * 32
    sent = {labelled: _request("labelled"), "h1": _request("plain")}
    labels = {"gemini_batch_hash": "a" * 32, "gemini_batch_hash_2": "b" * 32}
    echo = json.dumps(json.loads(sent[labelled]) | {"labels": labels}, sort_keys=True)
    job.write(sent, [("", echo, _answer("L"), ""), ("h1", sent["h1"], _answer("1"), "")])
    outcome = job.collect()
    assert set(job.responses()) == {labelled, "h1"}
    assert (outcome.succeeded, outcome.missing, outcome.errors) == (2, 0, [])
    cached = job.sql(f"select request from `{job.node.responses_table}` where request_hash = '{labelled}'")
    assert cached == [{"request": sent[labelled]}]  # the request sent, not the echo the key was read from
    current = job.ledger.current(job.entry)
    assert current is not None and (current.mismatched_count, current.total_tokens) == (0, 10)


def test_a_request_in_max_failed_jobs_failed_jobs_is_given_up_and_cancelled_jobs_do_not_count(
    bq_client: bigquery.Client, ledger_dataset: str
) -> None:
    settings = BatchSettings(keep_job_tables=True, max_failed_jobs=2, max_attempts=3)
    sent = {"f1": _request("breaks every job"), "f2": _request("this one too")}

    def failed_job(name: str, state: str = "JOB_STATE_FAILED") -> tuple[Job, NodeOutcome]:
        job = Job(bq_client, ledger_dataset, name)
        job.write(sent, [])  # Vertex wrote no output
        return job, job.collect(settings, state=state, error="Internal error occurred.")

    first, outcome = failed_job("fail1")
    assert outcome.errors and "ended FAILED" in outcome.errors[0] and outcome.exhausted == 0
    node = first.node
    first.sql(f"create table `{node.requests_table}` as select request_hash from `{first.input}`")
    assert plan.pending_counts(first.ctx, node, settings) == (2, 0)  # counted once, still sent again
    # still pending in the model's view too: no status, no answer, no attempt; one failed job counted
    rows = first.sql(f"select request_hash, status, response, attempts, failed_jobs from `{node.responses_table}`")
    assert sorted((r["request_hash"], r["status"], r["response"], r["attempts"], r["failed_jobs"]) for r in rows) == [
        ("f1", None, None, 0, 1),
        ("f2", None, None, 0, 1),
    ]
    first.collect(settings, state="JOB_STATE_FAILED", error="Internal error occurred.")  # collected again: no change
    assert plan.pending_counts(first.ctx, node, settings) == (2, 0)

    _, cancelled = failed_job("cancelled", state="JOB_STATE_CANCELLED")  # stopped on purpose: not the requests' fault
    assert cancelled.exhausted == 0 and plan.pending_counts(first.ctx, node, settings) == (2, 0)

    second, outcome = failed_job("fail2")
    assert outcome.exhausted == 2
    assert plan.pending_counts(first.ctx, node, settings) == (0, 2)  # given up, like rows failed max_attempts times
    statuses = {s for s, _, _ in second.responses().values()}
    assert statuses == {"given up after 2 failed batch jobs; last: batch job fail2 failed: Internal error occurred."}
    assert any("2 request(s) were in 2 failed batch jobs and are not sent again" in line for line in second.lines)
