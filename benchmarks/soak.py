"""Soak: drive the package through its CLI under faults, kills and concurrent runs, then prove from the emulator's own
jobs that nothing was paid twice, nothing answered was lost, and no job table was left behind (issue 8, item 9).

    python benchmarks/soak.py                 # 4 models x 60 rows, 12 requests per job, 3 kills (20+ jobs)
    python benchmarks/soak.py --quick         # 2 models x 20 rows, 1 kill (tests/integration/test_soak_smoke.py)
    python benchmarks/soak.py --seed 7 --models 5 --rows 100 --kills 5 --json-out soak.json

What it does, on a local stack of its own (loopback ports it picks; nothing reaches Google):
  1. a dbt project of `--models` gemini_batch models, each `--rows` distinct prompts, split into jobs of
     `max_requests_per_job` requests; the Vertex emulator fails 5% of rows (the same rows every time, so they end
     given up after max_attempts), answers 10% of API calls with 429/503 *after* doing what was asked
     (`api_error_after_commit`: a create that made its job but reported an error), fails one job (`fail_jobs` on the
     first chunk of a run of the first model alone, with new rows) and one job is cancelled through the real
     JobServiceClient while it runs;
  2. two `dbt-gemini-batch run` started at once over the same models;
  3. `--kills` rounds that add rows and SIGKILL the `dbt-gemini-batch run` process group at a step it printed
     (planning, create, waiting, merge: the next in turn), never at a wall-clock delay (a slow machine would only
     ever kill dbt's start-up);
  4. pauses: a `run` frozen (SIGSTOP) past its lease lifetime (GEMINI_BATCH_LEASE_SECONDS=LEASE_SECONDS) at a step
     (planning, waiting, merge) while another `run` goes on, then continued: it must not submit or merge again;
     throughout, the local BigQuery loses the answer of some lease inserts (the call took effect), the Vertex
     emulator lists a new job only LIST_LAG_SECONDS after its creation, one of the two concurrent runs has its
     clock 5 minutes ahead (time.time, through a sitecustomize of its own), and plain `dbt build`s loop during a run;
  5. `run` again (bounded rounds) until every request is answered or given up and no job is in flight, then a final
     `collect` (and `clean`, when the CLI has it);
  6. the figures: requests (distinct hashes), answered, duplicates, lost, leaked tables, attempts counted beyond the
     jobs that answered a hash, ledger counts that differ from the job's output. Exit 1 unless duplicates = lost =
     leaked = 0 (and every job could be observed); 2 when the soak itself could not run.

The ground truth is the emulator's job list and each job's input and output tables. The package drops those tables
once it has merged a job, so the hook talks to Vertex through a proxy (benchmarks/counting_proxy.py) that, on every job
resource it relays, reads the job's input hashes and, once the job is finished, its output rows *before* the hook sees
the finished state: the hook cannot merge (and drop) a job it has not yet seen finished, so no output is missed.

  duplicates  (job, hash) pairs where a job was created for a hash that an earlier job still had in flight at that
              moment (created before, not ended yet) or had already answered successfully (ended before, status '').
  lost        hashes some job's output answered successfully (status '') that the model's m__responses does not hold
              as answered. The soak's models leave room for the whole answer (max_output_tokens 1024): a truncated
              answer is marked unusable and re-sent by design (retry_unusable_answers), which would show up here.
  leaked      tables left in the soak's dataset that are neither a model's relations (m, m__requests, m__responses)
              nor a package-level table (`gemini_batch_*`, but a lease table `gemini_batch_lease_*` is a leak): job
              input/output tables (`m__batch_*`), staging tables or views (`m__dbt_gemini_batch_tmp`, ...), leases,
              whatever a killed run left.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.cloud import aiplatform_v1, bigquery

from counting_proxy import CountingProxy
from gemini_batch.local.clients import local_bigquery_client, local_job_client
from gemini_batch.local.stack import LocalStack, StackConfig, StackInfo

LOCATION = "us-central1"
DATASET = "soak"
GEMINI_MODEL = "gemini-2.5-flash"
TERMINAL = {
    "JOB_STATE_SUCCEEDED",
    "JOB_STATE_PARTIALLY_SUCCEEDED",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_EXPIRED",
}
BIN = Path(sys.executable).parent
LEASE_SECONDS = 15  # the runs' lease lifetime (GEMINI_BATCH_LEASE_SECONDS): a pause outlasts it in seconds
LIST_LAG_SECONDS = 3.0  # the Vertex emulator lists a new job this long after creating it
CLOCK_AHEAD_SECONDS = 300  # one of the concurrent runs: time.time() this far ahead
LEASE_INSERT_FAULTS = 3  # lease inserts whose answer the local BigQuery loses (after creating the table)
# What a run prints at each step (plain lines: its output is a file). "merge": a job's "N answered" line.
STEPS = {
    "planning": "request(s) pending",
    "create": "submitted ",
    "waiting": " elapsed",
    "merge": " answered, ",
}
# Our own reads of the emulator see the injected 429/503 too: retry them (google.api_core's Retry, bounded).
TRANSIENT = if_exception_type(gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError)
RETRY = Retry(predicate=TRANSIENT, initial=0.2, maximum=2.0, timeout=60.0)


class SoakError(RuntimeError):
    """The soak itself could not run (stack, dbt project); not a finding about the package."""


@dataclass
class Plan:
    seed: int
    models: int
    rows: int
    kills: int
    per_job: int  # max_requests_per_job of every model
    max_attempts: int
    add_rows: int  # rows each kill round adds to every model, so the killed run has something to submit
    settle_rounds: int
    kill_delay: tuple[float, float]  # unused since kills are tied to steps (kept for the JSON's shape)
    run_timeout: float
    pause_steps: tuple[str, ...] = ("planning", "waiting", "merge")

    @classmethod
    def from_args(cls, ns: argparse.Namespace) -> Plan:
        quick = ns.quick
        models = ns.models or (2 if quick else 4)
        rows = ns.rows or (20 if quick else 60)
        kills = ns.kills if ns.kills is not None else (1 if quick else 3)
        per_job = ns.per_job or (10 if quick else 12)
        if models < 1 or rows < 1 or kills < 0 or per_job < 1:
            raise SoakError("--models, --rows and --per-job must be at least 1, --kills at least 0")
        return cls(
            seed=ns.seed,
            models=models,
            rows=rows,
            kills=kills,
            per_job=per_job,
            max_attempts=2 if quick else 3,
            add_rows=per_job,
            settle_rounds=ns.settle_rounds or (4 if quick else 8),
            kill_delay=(4.0, 14.0) if quick else (4.0, 30.0),
            run_timeout=300.0 if quick else 900.0,
            pause_steps=("planning",) if quick else ("planning", "waiting", "merge"),
        )

    def model_names(self) -> list[str]:
        return [f"soak_m{i}" for i in range(1, self.models + 1)]


# -- ground truth: the emulator's jobs and their tables --------------------------------------------------------------
@dataclass
class JobRecord:
    name: str
    model: str  # the dbt_node label (lower-cased model name); "" when the job has none
    display_name: str
    input_table: str
    output_table: str
    create_time: dt.datetime
    end_time: dt.datetime | None = None
    state: str = ""
    inputs: set[str] | None = None  # request hashes of the input table; None: never readable
    outputs: dict[str, str] | None = None  # request_hash -> status of the output table; None: not observed
    notes: list[str] = field(default_factory=list)


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _table_from_uri(uri: str) -> str:
    return uri.removeprefix("bq://")


def _output_table(resource: dict[str, Any]) -> str:
    """The output table of a job: outputInfo when Vertex reported it (a bq:// URI or a bare table name in the
    destination dataset, the two shapes the emulator's `output_table_format` gives), else the requested URI."""
    requested = _table_from_uri(
        resource.get("outputConfig", {}).get("bigqueryDestination", {}).get("outputUri", "") or ""
    )
    reported = _table_from_uri(resource.get("outputInfo", {}).get("bigqueryOutputTable", "") or "")
    if not reported:
        return requested
    if "." in reported:
        return reported
    dataset = ".".join(requested.split(".")[:2])
    return f"{dataset}.{reported}"


class Recorder:
    """Snapshots each job's input hashes and, once it is finished, its output rows. Thread-safe; never raises into
    the proxy (a failed read is noted on the job and shows up as `unobserved`)."""

    def __init__(self, bq: bigquery.Client) -> None:
        self.bq = bq
        self.jobs: dict[str, JobRecord] = {}
        self._lock = threading.RLock()

    def inspect(self, method: str, path: str, payload: Any) -> None:
        """CountingProxy hook: every job resource the hook is about to receive."""
        del method, path
        if not isinstance(payload, dict):
            return
        listed = payload.get("batchPredictionJobs")
        resources = listed if isinstance(listed, list) else [payload]
        for resource in resources:
            if isinstance(resource, dict) and "/batchPredictionJobs/" in str(resource.get("name", "")):
                self.observe(resource)

    def observe(self, resource: dict[str, Any], late: bool = False) -> None:
        """Record one job resource. `late`: seen only at the end, so a missing output table may have been dropped
        by the package (unobserved) rather than never written."""
        try:
            self._observe(resource, late)
        except Exception as exc:  # a proxy hook must not break the relay; the note on the job shows it
            with self._lock:
                record = self.jobs.get(str(resource.get("name")))
                if record is not None:
                    record.notes.append(f"snapshot failed: {exc.__class__.__name__}: {exc}")

    def _observe(self, resource: dict[str, Any], late: bool) -> None:
        name = str(resource["name"])
        state = str(resource.get("state", ""))
        with self._lock:
            record = self.jobs.get(name)
            if record is None:
                created = _time(resource.get("createTime"))
                if created is None:
                    return
                record = JobRecord(
                    name=name,
                    model=str(resource.get("labels", {}).get("dbt_node", "")),
                    display_name=str(resource.get("displayName", "")),
                    input_table=_table_from_uri(
                        resource.get("inputConfig", {}).get("bigquerySource", {}).get("inputUri", "") or ""
                    ),
                    output_table="",
                    create_time=created,
                )
                self.jobs[name] = record
            record.state = state
            record.end_time = _time(resource.get("endTime"))
            record.output_table = _output_table(resource)
            if record.inputs is None:
                record.inputs = self._hashes(record.input_table)
                if record.inputs is None:
                    record.notes.append(f"input table {record.input_table} not found")
            if state in TERMINAL and record.outputs is None:
                outputs = self._outputs(record.output_table)
                if outputs is None and late and state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"):
                    record.notes.append(f"output table {record.output_table} gone before the soak could read it")
                    return
                # A job that failed or was cancelled before writing has no output table: no answers.
                record.outputs = outputs or {}

    def _hashes(self, table: str) -> set[str] | None:
        if not table:
            return None
        try:
            rows = self.bq.query(f"select request_hash from `{table}`").result()
        except gexc.NotFound:
            return None
        return {str(r["request_hash"]) for r in rows if r["request_hash"] is not None}

    def _outputs(self, table: str) -> dict[str, str] | None:
        if not table:
            return None
        try:
            rows = self.bq.query(f"select request_hash, status from `{table}`").result()
        except gexc.NotFound:
            return None
        found: dict[str, str] = {}
        for r in rows:
            if r["request_hash"] is None:
                continue
            status = r["status"] or ""
            if found.get(str(r["request_hash"])) != "":  # a success in the output wins over a failed duplicate row
                found[str(r["request_hash"])] = status
        return found

    def snapshot(self) -> list[JobRecord]:
        with self._lock:
            return sorted(self.jobs.values(), key=lambda r: r.create_time)


# -- the emulator: settings and the real JobServiceClient --------------------------------------------------------------
def set_emulator_config(vertex_endpoint: str, patch: dict[str, Any]) -> None:
    import urllib.request

    req = urllib.request.Request(  # noqa: S310 - the loopback emulator
        f"{vertex_endpoint}/emulator/config",
        data=json.dumps(patch).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the loopback emulator
        resp.read()


def set_bigquery_faults(bigquery_endpoint: str, rules: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The local BigQuery's fault rules (gemini_batch.local.bigquery_faults): replace them, or read them (None)."""
    import urllib.request

    req = urllib.request.Request(  # noqa: S310 - the loopback local BigQuery
        f"{bigquery_endpoint}/_local/faults",
        data=None if rules is None else json.dumps({"rules": rules}).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if rules is None else "POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - the loopback local BigQuery
        held: list[dict[str, Any]] = json.loads(resp.read())["rules"]
    return held


def list_jobs(jobs: aiplatform_v1.JobServiceClient, parent: str) -> list[dict[str, Any]]:
    """Every job of the project as REST JSON (the shape the proxy sees), through the real client."""
    pager = jobs.list_batch_prediction_jobs(request={"parent": parent}, retry=RETRY, timeout=30)
    return [json.loads(aiplatform_v1.BatchPredictionJob.to_json(j, use_integers_for_enums=False)) for j in pager]


class Chaos(threading.Thread):
    """Watches the emulator's jobs while the runs go on: snapshots them early and cancels one running job of
    `cancel_model` through the real JobServiceClient."""

    def __init__(self, recorder: Recorder, jobs: aiplatform_v1.JobServiceClient, parent: str, vertex: str) -> None:
        super().__init__(name="soak-chaos", daemon=True)
        self.recorder, self.jobs, self.parent, self.vertex = recorder, jobs, parent, vertex
        self.cancel_model: str | None = None
        self.cancelled: list[str] = []
        self.errors: list[str] = []
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=60)

    def run(self) -> None:
        while not self._halt.wait(0.3):
            try:
                self._tick()
            except Exception as exc:  # keep watching; the error is reported
                self.errors.append(f"{exc.__class__.__name__}: {exc}"[:300])

    def _tick(self) -> None:
        listed = list_jobs(self.jobs, self.parent)
        for resource in listed:
            self._act(resource)
        for resource in listed:  # after acting: reading new jobs' tables takes a while on the serialised BigQuery
            self.recorder.observe(resource)

    def _act(self, resource: dict[str, Any]) -> None:
        state, name = resource.get("state", ""), resource["name"]
        model = resource.get("labels", {}).get("dbt_node")
        if self.cancel_model and model == self.cancel_model and state not in TERMINAL:
            self.cancel_model = None
            self.cancelled.append(name)
            # FailedPrecondition: it ended meanwhile, or a retried cancel after an injected error that committed.
            with contextlib.suppress(gexc.FailedPrecondition):
                self.jobs.cancel_batch_prediction_job(name=name, retry=RETRY, timeout=30)


# -- the dbt project and the CLI --------------------------------------------------------------------------------------
def model_sql(index: int, plan: Plan) -> str:
    meta = {"gemini_model": GEMINI_MODEL, "max_requests_per_job": plan.per_job, "max_attempts": plan.max_attempts}
    return (
        f"{{{{ config(materialized='gemini_batch', meta={json.dumps(meta)}) }}}}\n\n"
        "select\n"
        "    n as item_id,\n"
        "    {{ gemini_batch.request(\n"
        f"        prompt=\"concat('Soak model {index} item ', cast(n as string), ': name one colour.')\",\n"
        "        generation_config={'temperature': 0, 'max_output_tokens': 1024},\n"
        "    ) }} as request\n"
        "from unnest(generate_array(1, {{ var('soak_rows') }})) as n\n"
    )


def write_project(root: Path, repo: Path, plan: Plan) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: gemini_batch_soak\n"
        "version: 0.1.0\n"
        "config-version: 2\n"
        "profile: gemini_batch_integration_tests\n"
        'model-paths: ["models"]\n'
        "flags:\n"
        "  send_anonymous_usage_stats: false\n"
        f"vars:\n  soak_rows: {plan.rows}\n"
    )
    (root / "packages.yml").write_text(f"packages:\n  - local: {json.dumps(str(repo))}\n")
    shutil.copyfile(repo / "profiles.example.yml", root / "profiles.yml")
    for i, name in enumerate(plan.model_names(), start=1):
        (root / "models" / f"{name}.sql").write_text(model_sql(i, plan))


@dataclass
class RunRecord:
    label: str
    args: list[str]
    returncode: int | None  # None: killed by the soak
    seconds: float
    killed_after: float | None = None
    log: str = ""
    step: str = ""  # the step a kill or pause was tied to ("" none; "<step>?" the run never reached it)
    paused_seconds: float = 0.0


class Cli:
    """`dbt-gemini-batch ...` in the soak project, each in its own process group (a kill takes dbt's children too)."""

    def __init__(self, root: Path, env: dict[str, str], plan: Plan) -> None:
        self.root, self.env, self.plan = root, env, plan
        self.runs: list[RunRecord] = []
        (root / "runs").mkdir(exist_ok=True)

    def start(self, label: str, *args: str) -> tuple[subprocess.Popen[bytes], RunRecord, float]:
        argv = [*args, "--project-dir", str(self.root), "--profiles-dir", str(self.root)]
        log = self.root / "runs" / f"{len(self.runs) + 1:02d}-{label}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(BIN / "dbt-gemini-batch"), *argv],
                cwd=self.root,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        record = RunRecord(label, list(args), None, 0.0, log=str(log))
        self.runs.append(record)
        return proc, record, time.monotonic()

    def finish(
        self, proc: subprocess.Popen[bytes], record: RunRecord, started: float, kill_at: float | None = None
    ) -> RunRecord:
        timeout = self.plan.run_timeout if kill_at is None else kill_at
        try:
            record.returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            record.killed_after = round(time.monotonic() - started, 1)
            if kill_at is None:
                record.log += " (timed out)"
        record.seconds = round(time.monotonic() - started, 1)
        return record

    def run(self, label: str, *args: str) -> RunRecord:
        return self.finish(*self.start(label, *args))

    def wait_for_step(self, proc: subprocess.Popen[bytes], record: RunRecord, step: str) -> bool:
        """Until the run prints the step's line (True) or ends or times out (False)."""
        needle = STEPS[step].encode()
        deadline = time.monotonic() + self.plan.run_timeout
        log = Path(record.log)
        while time.monotonic() < deadline:
            if needle in log.read_bytes():
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def kill_at_step(self, label: str, step: str, *args: str) -> RunRecord:
        proc, record, started = self.start(label, *args)
        reached = self.wait_for_step(proc, record, step)
        record.step = step if reached else f"{step}?"
        return self.finish(proc, record, started, kill_at=0.01)

    def pause_at_step(self, label: str, step: str, *args: str) -> tuple[RunRecord, RunRecord]:
        """Freeze a run (its process group) at `step` past its lease lifetime while another run goes on, then let it
        continue. Returns (paused run, the run that went on)."""
        proc, record, started = self.start(label, *args)
        reached = self.wait_for_step(proc, record, step)
        record.step = step if reached else f"{step}?"
        frozen = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGSTOP)
        try:
            other = self.run(f"{label}-meanwhile", *args)
            time.sleep(max(0.0, LEASE_SECONDS + 5 - (time.monotonic() - frozen)))
        finally:
            record.paused_seconds = round(time.monotonic() - frozen, 1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
        return self.finish(proc, record, started), other

    def commands(self) -> set[str]:
        out = subprocess.run(
            [str(BIN / "dbt-gemini-batch"), "--help"], env=self.env, capture_output=True, text=True, check=False
        ).stdout
        return {c for c in ("clean", "collect") if c in out}


def vars_arg(rows: int) -> str:
    return json.dumps({"soak_rows": rows})


def clock_ahead_env(root: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment of a run whose clock is CLOCK_AHEAD_SECONDS ahead: a sitecustomize of its own moves time.time."""
    folder = root / "clock_ahead"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        f"import time\n_real = time.time\ntime.time = lambda: _real() + {CLOCK_AHEAD_SECONDS}\n"
    )
    # and a target folder of its own, as a run on another machine has: two runs writing and reading one
    # target/manifest.json at once break each other (noted in the soak's report as a finding, not tested here)
    return {
        **env,
        "PYTHONPATH": os.pathsep.join(p for p in (str(folder), env.get("PYTHONPATH", "")) if p),
        "DBT_TARGET_PATH": "target_clock_ahead",
    }


class DbtBuilds(threading.Thread):
    """Plain `dbt build`s of the models in a loop (a scheduler's builds overlapping a collect)."""

    def __init__(self, root: Path, env: dict[str, str], rows: int) -> None:
        super().__init__(name="soak-dbt-builds", daemon=True)
        self.root, self.env, self.rows = root, env, rows
        self.builds = 0
        self.failures: list[str] = []
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=600)

    def run(self) -> None:
        while not self._halt.is_set():
            done = subprocess.run(
                [str(BIN / "dbt"), "build", "--vars", vars_arg(self.rows), "--project-dir", str(self.root),
                 "--profiles-dir", str(self.root)],
                cwd=self.root, env=self.env, capture_output=True, text=True, check=False, timeout=600,
            )  # fmt: skip
            self.builds += 1
            if done.returncode != 0:
                self.failures.append(done.stdout[-600:])


# -- the state in BigQuery ------------------------------------------------------------------------------------------
def cache_state(bq: bigquery.Client, model: str, max_attempts: int) -> dict[str, Any]:
    """Distinct request hashes of the model and what m__responses says of them."""
    base = f"{bq.project}.{DATASET}.{model}"
    rows = bq.query(
        f"""
        select
            count(distinct requests.request_hash) as requests,
            count(distinct if(responses.status = '', requests.request_hash, null)) as answered,
            count(distinct if(responses.status != '' and coalesce(responses.attempts, 0) >= {max_attempts:d},
                requests.request_hash, null)) as given_up,
            count(distinct if(responses.request_hash is null
                or (responses.status != '' and coalesce(responses.attempts, 0) < {max_attempts:d}),
                requests.request_hash, null)) as pending
        from `{base}__requests` as requests
        left join `{base}__responses` as responses on requests.request_hash = responses.request_hash
        where requests.request_hash is not null
        """
    ).result()
    return dict(next(iter(rows)))


def answered_hashes(bq: bigquery.Client, model: str) -> set[str]:
    try:
        rows = bq.query(f"select request_hash from `{bq.project}.{DATASET}.{model}__responses` where status = ''")
        return {str(r["request_hash"]) for r in rows.result()}
    except gexc.NotFound:
        return set()


def leaked_tables(bq: bigquery.Client, models: Iterable[str]) -> tuple[list[str], list[str]]:
    """(leaked, kept): every table of the soak dataset that is not a model relation or a package-level table."""
    suffixes = ("", "__requests", "__responses", "__answer_history", "__collected", "__collected_judged")
    expected = {f"{m}{suffix}" for m in models for suffix in suffixes}
    names = sorted(t.table_id for t in bq.list_tables(DATASET))
    leaked = [
        n
        for n in names
        if n not in expected and (not n.startswith("gemini_batch_") or n.startswith("gemini_batch_lease_"))
    ]
    return leaked, [n for n in names if n not in leaked]


# -- the figures ----------------------------------------------------------------------------------------------------
def duplicates(jobs: list[JobRecord]) -> list[dict[str, Any]]:
    """Per job created for hashes an earlier job had in flight or had answered: which hashes and why."""
    found = []
    for i, job in enumerate(jobs):
        if not job.inputs:
            continue
        in_flight: dict[str, str] = {}
        answered: dict[str, str] = {}
        for earlier in jobs[:i]:
            if earlier.model != job.model or not earlier.inputs or earlier.create_time > job.create_time:
                continue
            shared = job.inputs & earlier.inputs
            if not shared:
                continue
            if earlier.end_time is None or earlier.end_time > job.create_time:
                for h in shared:
                    in_flight.setdefault(h, earlier.name)
            else:
                for h in shared:
                    if (earlier.outputs or {}).get(h) == "":
                        answered.setdefault(h, earlier.name)
        hashes = sorted(set(in_flight) | set(answered))
        if hashes:
            found.append(
                {
                    "job": job.name,
                    "display_name": job.display_name,
                    "model": job.model,
                    "hashes": hashes,
                    "in_flight_in": sorted(set(in_flight.values())),
                    "answered_by": sorted(set(answered.values())),
                }
            )
    return found


def lost(jobs: list[JobRecord], cache: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Hashes some job's output answered successfully that the model's cache does not hold as answered."""
    answered_by: dict[tuple[str, str], str] = {}
    for job in jobs:
        for h, status in (job.outputs or {}).items():
            if status == "":
                answered_by.setdefault((job.model, h), job.name)
    return [
        {"model": model, "hash": h, "answered_by": name}
        for (model, h), name in sorted(answered_by.items())
        if h not in cache.get(model, set())
    ]


def ledger_mismatches(bq: bigquery.Client, jobs: list[JobRecord]) -> list[dict[str, Any]]:
    """Collected jobs whose ledger counts differ from what their output held (answered, failed rows)."""
    try:
        rows = bq.query(
            f"select job_name, succeeded_count, failed_count from `{bq.project}.{DATASET}.gemini_batch_jobs` "
            "where job_name is not null and collected_at is not null "
            "qualify row_number() over (partition by input_table order by updated_at desc) = 1"
        ).result()
    except gexc.NotFound:
        return []
    by_name = {j.name: j for j in jobs}
    found = []
    for row in rows:
        job = by_name.get(str(row["job_name"]))
        if job is None or job.outputs is None:
            continue
        seen = (sum(1 for s in job.outputs.values() if s == ""), sum(1 for s in job.outputs.values() if s != ""))
        recorded = (int(row["succeeded_count"] or 0), int(row["failed_count"] or 0))
        if recorded != seen:
            found.append({"job": job.name, "ledger": recorded, "output": seen})
    return found


def attempts_over(bq: bigquery.Client, models: list[str], jobs: list[JobRecord]) -> list[dict[str, Any]]:
    """Hashes whose `attempts` exceed the jobs whose output held them: an attempt counted twice."""
    seen: dict[tuple[str, str], int] = {}
    for job in jobs:
        for h in job.outputs or {}:
            seen[(job.model, h)] = seen.get((job.model, h), 0) + 1
    found = []
    for model in models:
        rows = bq.query(
            f"select request_hash, attempts from `{bq.project}.{DATASET}.{model}__responses` where attempts > 0"
        ).result()
        for row in rows:
            jobs_seen = seen.get((model, str(row["request_hash"])), 0)
            if int(row["attempts"]) > jobs_seen:
                found.append({"model": model, "hash": row["request_hash"], "attempts": row["attempts"],
                              "jobs": jobs_seen})  # fmt: skip
    return found


def job_summary(job: JobRecord) -> dict[str, Any]:
    return {
        "job": job.name,
        "display_name": job.display_name,
        "model": job.model,
        "state": job.state,
        "requests": len(job.inputs or ()),
        "answered": sum(1 for s in (job.outputs or {}).values() if s == ""),
        "failed_rows": sum(1 for s in (job.outputs or {}).values() if s != ""),
        "notes": job.notes,
    }


# -- injected faults the smoke test uses to check the figures ---------------------------------------------------------
def inject_duplicate(
    bq: bigquery.Client, jobs: aiplatform_v1.JobServiceClient, parent: str, recorder: Recorder, model: str
) -> list[str]:
    """Submit the same input table twice through the real JobServiceClient, for 2 hashes the cache already answered:
    both jobs are duplicates. Their tables are ours and are dropped afterwards."""
    table = f"{bq.project}.{DATASET}.inject_dup_input"
    bq.query(
        f"create table `{table}` as select request_hash, request from `{bq.project}.{DATASET}.{model}__responses` "
        "where status = '' order by request_hash limit 2"
    ).result()
    names = []
    for n in (1, 2):
        body = aiplatform_v1.BatchPredictionJob(
            display_name=f"soak injected duplicate {n}",
            model=f"publishers/google/models/{GEMINI_MODEL}",
            input_config=aiplatform_v1.BatchPredictionJob.InputConfig(
                instances_format="bigquery", bigquery_source=aiplatform_v1.BigQuerySource(input_uri=f"bq://{table}")
            ),
            output_config=aiplatform_v1.BatchPredictionJob.OutputConfig(
                predictions_format="bigquery",
                bigquery_destination=aiplatform_v1.BigQueryDestination(output_uri=f"bq://{table}_out{n}"),
            ),
            labels={"dbt_node": model},
        )
        # No retry on create (it is not idempotent and the soak's faults are off by now).
        names.append(jobs.create_batch_prediction_job(parent=parent, batch_prediction_job=body, timeout=60).name)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        resources = [
            json.loads(
                aiplatform_v1.BatchPredictionJob.to_json(
                    jobs.get_batch_prediction_job(name=n, retry=RETRY), use_integers_for_enums=False
                )
            )
            for n in names
        ]
        if all(r["state"] in TERMINAL for r in resources):
            for r in resources:
                recorder.observe(r)
            break
        time.sleep(0.5)
    for suffix in ("", "_out1", "_out2"):
        bq.delete_table(f"{table}{suffix}", not_found_ok=True)
    return names


def inject_lost(bq: bigquery.Client, model: str) -> str:
    """Forget one answered row of the cache: the answer Vertex gave is now lost."""
    responses = f"{bq.project}.{DATASET}.{model}__responses"
    rows = list(bq.query(f"select min(request_hash) as h from `{responses}` where status = ''").result())
    h = str(rows[0]["h"])
    bq.query(f"delete from `{responses}` where request_hash = '{h}'").result()
    return h


def inject_leak(bq: bigquery.Client, model: str) -> str:
    """A job input table the way a killed run leaves it."""
    name = f"{model}__batch_19700101000000_dead00_000"
    bq.query(f"create table `{bq.project}.{DATASET}.{name}` as select 'x' as request_hash, '{{}}' as request").result()
    return name


# -- the soak --------------------------------------------------------------------------------------------------------
def soak(info: StackInfo, root: Path, plan: Plan, ns: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(plan.seed)
    bq = local_bigquery_client(info.bigquery_endpoint, info.project, LOCATION)
    jobs = local_job_client(info.vertex_endpoint)
    parent = f"projects/{info.project}/locations/{LOCATION}"
    recorder = Recorder(bq)
    models = plan.model_names()
    started = time.monotonic()

    with CountingProxy(info.vertex_endpoint, inspect=recorder.inspect) as proxy:
        env = {
            **os.environ,
            **info.env(),
            "GEMINI_BATCH_VERTEX_ENDPOINT": proxy.url,  # the hook polls through the snapshotting proxy
            "GEMINI_BATCH_DATASET": DATASET,
            "GEMINI_BATCH_TARGET": "local",
            "GEMINI_BATCH_LEASE_SECONDS": str(LEASE_SECONDS),
            "PYTHONUNBUFFERED": "1",  # its step lines reach the log as they are printed
        }
        cli = Cli(root, env, plan)
        deps = subprocess.run(
            [str(BIN / "dbt"), "deps", "--project-dir", str(root), "--profiles-dir", str(root)],
            cwd=root, env=env, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        if deps.returncode != 0:
            raise SoakError(f"dbt deps failed in {root}:\n{deps.stdout[-2000:]}{deps.stderr[-2000:]}")
        faults = {
            "seed": plan.seed,
            "row_failure_rate": 0.05,
            "row_failure_code": 500,
            "api_error_rate": 0.10,
            "api_error_codes": [429, 503],
            "api_error_after_commit": True,
            "queue_delay_seconds": 0.5,
            "per_row_latency_seconds": 0.05,
        }
        set_emulator_config(info.vertex_endpoint, faults)
        lease_rule = {"method": "POST", "path": "/tables$", "body_contains": "gemini_batch_lease_",
                      "times": LEASE_INSERT_FAULTS}  # fmt: skip
        set_bigquery_faults(info.bigquery_endpoint, [lease_rule])
        builds: DbtBuilds | None = None
        pauses: list[dict[str, Any]] = []
        chaos = Chaos(recorder, jobs, parent, info.vertex_endpoint)
        chaos.cancel_model = models[-1]
        chaos.start()
        try:
            # Two runs at once over the same models, while one job fails and one is cancelled.
            rows = plan.rows
            pair = [cli.start("concurrent-1", "run", "--vars", vars_arg(rows))]
            ahead = Cli(root, clock_ahead_env(root, env), plan)  # the second run's clock is 5 minutes ahead
            ahead.runs = cli.runs
            pair.append(ahead.start("concurrent-2-clock-ahead", "run", "--vars", vars_arg(rows)))
            for proc, record, t0 in pair:
                cli.finish(proc, record, t0)
            # From now on a new job shows in the list only LIST_LAG_SECONDS after its creation (not before: the chaos
            # thread finds the job it cancels by listing, and a short job would have ended by then).
            set_emulator_config(info.vertex_endpoint, {"list_lag_seconds": LIST_LAG_SECONDS})
            # One failed job: a run of the first model alone with new rows, its first chunk failing. The emulator
            # reads its settings when a job is created, so fail_jobs is set before the run and cleared after it.
            rows += plan.add_rows
            set_emulator_config(info.vertex_endpoint, {"fail_jobs": f"dbt-gemini-batch {models[0]} *_000"})
            cli.run("failed-job", "run", "--select", models[0], "--vars", vars_arg(rows))
            set_emulator_config(info.vertex_endpoint, {"fail_jobs": False})
            # Kills at a step each (the next in turn), each round with new rows to submit.
            steps = list(STEPS)
            offset = rng.randrange(len(steps))
            for k in range(plan.kills):
                rows += plan.add_rows
                step = steps[(offset + k) % len(steps)]
                cli.kill_at_step(f"kill-{k + 1}-{step}", step, "run", "--vars", vars_arg(rows))
            # Pauses past the lease lifetime, each round with new rows; plain dbt builds loop during the first.
            for step in plan.pause_steps:
                rows += plan.add_rows
                if builds is None:
                    builds = DbtBuilds(root, env, rows)
                    builds.start()
                paused, other = cli.pause_at_step(f"pause-{step}", step, "run", "--vars", vars_arg(rows))
                text = Path(paused.log).read_text(errors="replace")
                pauses.append({"step": paused.step, "seconds": paused.paused_seconds,
                               "returncode": paused.returncode, "said_lost": "lost the " in text,
                               "other_returncode": other.returncode})  # fmt: skip
                if builds.is_alive():
                    builds.stop()
            # Settle: run until every request is answered or given up and no job is in flight.
            settled = False
            for n in range(plan.settle_rounds):
                cli.run(f"settle-{n + 1}", "run", "--vars", vars_arg(rows))
                states = {m: cache_state(bq, m, plan.max_attempts) for m in models}
                in_flight = [j["name"] for j in list_jobs(jobs, parent) if j.get("state") not in TERMINAL]
                if all(s["pending"] == 0 for s in states.values()) and not in_flight:
                    settled = True
                    break
        finally:
            chaos.stop()
            if builds is not None and builds.is_alive():
                builds.stop()
        lease_faults = set_bigquery_faults(info.bigquery_endpoint, None)  # how often each fired
        set_bigquery_faults(info.bigquery_endpoint, [])
        # The final sweep, faults off so it reports the package's end state rather than one more 429.
        set_emulator_config(info.vertex_endpoint, {"api_error_rate": 0.0, "fail_jobs": False})
        available = cli.commands()
        cli.run("final-collect", "collect", "--vars", vars_arg(rows))
        if "clean" in available:
            # nothing else runs now: leftovers of the killed runs go whatever their age
            cli.run("final-clean", "clean", "--older-than", "0", "--vars", vars_arg(rows))
        for resource in list_jobs(jobs, parent):
            recorder.observe(resource, late=True)

    injected: dict[str, Any] = {}
    if ns.inject_duplicate:
        injected["duplicate_jobs"] = inject_duplicate(bq, jobs, parent, recorder, models[0])
    if ns.inject_lost:
        injected["lost_hash"] = inject_lost(bq, models[0])
    if ns.inject_leak:
        injected["leaked_table"] = inject_leak(bq, models[0])

    records = recorder.snapshot()
    cache = {m: answered_hashes(bq, m) for m in models}
    states = {m: cache_state(bq, m, plan.max_attempts) for m in models}
    dups = duplicates(records)
    lost_rows = lost(records, cache)
    leaked, kept = leaked_tables(bq, models)
    ledger_off = ledger_mismatches(bq, records)
    over = attempts_over(bq, models, records)
    unobserved = [
        r.name
        for r in records
        if r.inputs is None or (r.state in TERMINAL and r.outputs is None) or r.state not in TERMINAL
    ]
    by_state: dict[str, int] = {}
    for r in records:
        by_state[r.state] = by_state.get(r.state, 0) + 1
    return {
        "plan": asdict(plan),
        "settled": settled,
        "seconds": round(time.monotonic() - started, 1),
        "requests": sum(s["requests"] for s in states.values()),
        "answered": sum(s["answered"] for s in states.values()),
        "given_up": sum(s["given_up"] for s in states.values()),
        "pending": sum(s["pending"] for s in states.values()),
        "models": states,
        "jobs": len(records),
        "jobs_by_state": by_state,
        "failed_jobs": [r.name for r in records if r.state == "JOB_STATE_FAILED"],
        "cancelled_job": chaos.cancelled,
        "duplicates": sum(len(d["hashes"]) for d in dups),
        "duplicate_jobs": dups,
        "lost": len(lost_rows),
        "lost_hashes": lost_rows,
        "leaked": len(leaked),
        "leaked_tables": leaked,
        "kept_tables": kept,
        "unobserved_jobs": unobserved,
        "ledger_mismatches": ledger_off,
        "attempts_over": over,
        "pauses": pauses,
        "lease_insert_answers_lost": sum(int(r.get("fired", 0)) for r in lease_faults),
        "dbt_builds": builds.builds if builds else 0,
        "dbt_build_failures": builds.failures[:5] if builds else [],
        "chaos_errors": chaos.errors[:20],
        "runs": [asdict(r) for r in cli.runs],
        "injected": injected,
        "job_list": [job_summary(r) for r in records],
    }


def verdict(figures: dict[str, Any]) -> int:
    ok = figures["duplicates"] == 0 and figures["lost"] == 0 and figures["leaked"] == 0
    ok = ok and not figures["ledger_mismatches"] and not figures["attempts_over"] and not figures["dbt_build_failures"]
    return 0 if ok and not figures["unobserved_jobs"] else 1


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"soak: {figures['plan']['models']} models, {figures['jobs']} jobs {figures['jobs_by_state']}, "
        f"{len(figures['runs'])} CLI runs, {figures['seconds']} s, settled: {figures['settled']}",
        f"  requests    {figures['requests']:>6}  (distinct request hashes)",
        f"  answered    {figures['answered']:>6}",
        f"  given up    {figures['given_up']:>6}  (failed max_attempts times)",
        f"  pending     {figures['pending']:>6}",
        f"  duplicates  {figures['duplicates']:>6}  (hashes sent again while in flight or already answered)",
        f"  lost        {figures['lost']:>6}  (answered by Vertex, not answered in m__responses)",
        f"  leaked      {figures['leaked']:>6}  (tables left after the final collect/clean, leases included)",
        f"  ledger off  {len(figures['ledger_mismatches']):>6}  (collected jobs: ledger counts differ from output)",
        f"  attempts+   {len(figures['attempts_over']):>6}  (hashes with more attempts than jobs that returned them)",
        f"  pauses      {len(figures['pauses']):>6}  "
        + ", ".join(
            f"{p['step']} {p['seconds']} s -> exit {p['returncode']}" + (" (said lost)" if p["said_lost"] else "")
            for p in figures["pauses"]
        ),
        f"  lease insert answers lost {figures['lease_insert_answers_lost']}, dbt builds during runs "
        f"{figures['dbt_builds']} ({len(figures['dbt_build_failures'])} failed)",
    ]
    for d in figures["duplicate_jobs"]:
        lines.append(
            f"  DUPLICATE {d['model']} {d['display_name']} ({d['job'].rsplit('/', 1)[-1]}): {len(d['hashes'])} "
            f"hash(es) e.g. {d['hashes'][0][:16]}; in flight in {len(d['in_flight_in'])} job(s), answered by "
            f"{len(d['answered_by'])}"
        )
    lines += [f"  LOST {x['model']} {x['hash']} (answered by {x['answered_by'].rsplit('/', 1)[-1]})" for x in
              figures["lost_hashes"][:20]]  # fmt: skip
    lines += [f"  LEAKED {name}" for name in figures["leaked_tables"]]
    lines += [f"  UNOBSERVED {name}" for name in figures["unobserved_jobs"]]
    failed_runs = [f"{r['label']}={r['returncode']}" for r in figures["runs"] if r["returncode"] not in (0, None)]
    if failed_runs:
        lines.append(f"  runs that exited non-zero (logs in the work dir): {', '.join(failed_runs)}")
    lines.append("PASS: duplicates 0, lost 0, leaked 0" if verdict(figures) == 0 else "FAIL")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--models", type=int, help="gemini_batch models (default 4, --quick 2)")
    parser.add_argument("--rows", type=int, help="distinct requests per model at the start (default 60, --quick 20)")
    parser.add_argument("--kills", type=int, help="runs SIGKILLed at a random moment (default 3, --quick 1)")
    parser.add_argument("--per-job", type=int, help="max_requests_per_job (default 12, --quick 10)")
    parser.add_argument("--settle-rounds", type=int, help="at most this many `run`s to settle (default 8, --quick 4)")
    parser.add_argument("--quick", action="store_true", help="a short soak (10-15 minutes on 2 busy cores)")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON here")
    parser.add_argument("--work-dir", type=Path, help="keep the dbt project, run logs and stack logs here")
    for what in ("duplicate", "lost", "leak"):
        parser.add_argument(f"--inject-{what}", action="store_true", help=f"plant a {what} to check the figures")
    ns = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    try:
        plan = Plan.from_args(ns)
        with contextlib.ExitStack() as cleanup:
            if ns.work_dir:
                work = ns.work_dir.resolve()
                work.mkdir(parents=True, exist_ok=True)
            else:
                work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="gemini_batch_soak_")))
            stack = LocalStack(StackConfig.on_free_ports(work / "stack"))
            info = stack.up()
            cleanup.callback(stack.down)
            bq = local_bigquery_client(info.bigquery_endpoint, info.project, LOCATION)
            dataset = bigquery.Dataset(f"{info.project}.{DATASET}")
            dataset.location = LOCATION
            bq.create_dataset(dataset, exists_ok=True)
            project = work / "project"
            shutil.rmtree(project, ignore_errors=True)
            write_project(project, repo, plan)
            figures = soak(info, project, plan, ns)
    except SoakError as exc:
        print(f"soak could not run: {exc}", file=sys.stderr)
        return 2
    print(report(figures))
    if ns.json_out:
        ns.json_out.write_text(json.dumps(figures, indent=1, default=str))
    return verdict(figures)


if __name__ == "__main__":
    sys.exit(main())
