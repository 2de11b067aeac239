"""End-to-end throughput of the whole pipeline on the local stack: dbt model -> batch job -> merged answers.

Starts a LocalStack (bqemulator + the Vertex emulator as subprocesses, free ports, temporary directory), writes a
throwaway dbt project with one `materialized='gemini_batch'` model of N review prompts (~600 characters each, with a
responseSchema), and times two `dbt-gemini-batch run`s as subprocesses:
1. the first run: materialization (dbt start-up, m__requests, the pending count), submission, the job, the merge into
   m__responses and the ledger, read from the hook's `gemini_batch:` lines as they arrive;
2. a second run with nothing pending: the cost of an idempotent no-op (it must say "0 requests pending");
3. a third run after the model gained 1% new rows: the hook's own time outside the job (issue "Cost at real scale":
   <= 10 s at 100k rows), from the lines of dbt's node, submission, job state and merge.
Then checks that every row is answered and prints the phases, rows/s, CPU seconds and the peak RSS (VmHWM / ru_maxrss)
of bqemulator, the Vertex emulator and dbt-gemini-batch.

    python benchmarks/pipeline_throughput.py [--rows 100000] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from google.cloud import bigquery

from gemini_batch.local.clients import local_bigquery_client, local_job_client
from gemini_batch.local.stack import LocalStack, StackConfig, StackInfo

DATASET = "bench"
MODEL = "bench_requests"
LOCATION = "us-central1"
RESPONSE_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "sentiment": {"type": "STRING", "enum": ["positive", "negative", "neutral", "mixed"]},
        "summary": {"type": "STRING", "description": "One sentence, at most 25 words."},
    },
    "required": ["sentiment", "summary"],
}
# Six slots of sentences picked by n modulo 7, 11, 3, 13, 4 and 5: 60,060 distinct reviews of ~600 characters, and
# every prompt is unique anyway ("Review <n>: ..."), so there are N distinct request hashes. No quotes in the texts:
# they end up inside a SQL string inside a Jinja string.
OPENINGS = [
    "I bought this stainless steel kettle last month to replace an older plastic one that had started to leak.",
    "Ordered the wireless headphones as a birthday present for my brother, who listens to podcasts on his commute.",
    "This is the second coffee grinder I have owned from this brand, the first one lasted almost six years.",
    "We picked up the rain jacket before a hiking trip in the mountains where the forecast promised heavy showers.",
    "My partner chose the desk lamp for our home office because the reviews praised its adjustable colour tones.",
    "I needed a sturdy backpack for daily cycling to work and this model was on sale for a reasonable price.",
    "The blender arrived as part of a kitchen upgrade, together with a new set of knives and a cutting board.",
]
MIDDLES = [
    "Delivery was quick, the parcel came two days early and the box was neatly packed with recycled paper.",
    "Unfortunately the package arrived dented and one of the plastic clips was already cracked on arrival.",
    "Setting it up took only a few minutes and the printed instructions were short, clear and well illustrated.",
    "The build quality feels solid in the hand, with no rattling parts and a finish that resists fingerprints.",
    "After about a week of use a strange buzzing noise appeared whenever it ran for longer than a few minutes.",
    "Customer service answered my question about the warranty within an hour and was friendly and precise.",
    "The colour is a little darker than in the photos on the product page, but it still looks nice at home.",
    "It is noticeably heavier than I expected, which makes it stable on the counter but awkward to carry.",
    "The battery easily lasts a full working day and recharges in well under two hours with the supplied cable.",
    "Several of the buttons feel cheap and one of them already sticks a little when pressed firmly.",
    "Compared with the model I had before it is quieter, faster and uses noticeably less energy overall.",
]
USAGE = [
    "I have used it almost every day for the past three weeks, mostly in the morning before work and at weekends.",
    "So far it has only been used a handful of times, but always for longer sessions of an hour or more.",
    "It gets heavy use in our house, with four people sharing it and nobody being particularly careful with it.",
]
DETAILS = [
    "The price was fair for what you get, although similar products are sometimes discounted during sales.",
    "I contacted support twice about a missing accessory and still have not received any useful reply.",
    "The size fits perfectly in the small space I had planned for it, with room left for cables behind it.",
    "Cleaning is easy because the removable parts go straight into the dishwasher without any problem.",
    "The app that comes with it crashes regularly and asks me to log in again almost every single day.",
    "My family uses it every morning now and nobody has complained about it since the first week.",
    "The smell of plastic was strong during the first few uses but faded completely after a couple of days.",
    "It replaced two older devices on my shelf, which saves space and makes the morning routine simpler.",
    "The cable is far too short, so I had to buy an extension to use it where I actually wanted it.",
    "Packaging was excessive, with layers of foam and plastic that felt wasteful for such a small item.",
    "The included carrying case is a nice touch and protects it well when travelling by train or plane.",
    "Spare parts are easy to order from the website and arrived within three working days when I needed one.",
    "The display is bright and readable even in direct sunlight, which I did not expect at this price point.",
]
CONTEXT = [
    "For comparison, I have tried two cheaper alternatives from other shops and returned both of them quickly.",
    "I read a lot of reviews before ordering and most of them matched what I experienced once it arrived.",
    "A friend of mine owns the previous version and we compared them side by side on a rainy afternoon.",
    "I mainly bought it because the store offered free returns for sixty days, which made the decision easy.",
]
CLOSINGS = [
    "Overall I am very happy with the purchase and would recommend it to friends without hesitation.",
    "All things considered it does the job, but I would probably look at other brands next time.",
    "I am returning it and asking for a refund, because it simply did not meet my expectations at all.",
    "It is good value for money, with a few small flaws that are easy to live with in daily use.",
    "Mixed feelings overall: great when it works, frustrating when it does not, four stars for now.",
]

SUCCEEDED_SEEN = re.compile(r"job (\S+) SUCCEEDED, ")  # the wait loop's state line
ANSWERED = re.compile(r"job (\S+) SUCCEEDED: (\d+) answered, (\d+) failed rows")  # the collect line, after merge+ledger
SUBMITTED = re.compile(r"submitted (\S+) \((\d+) requests\)")
DBT_NODE_START = re.compile(rf"START sql gemini_batch model \S+\.{MODEL} ")
DBT_NODE_TIME = re.compile(rf"\.{MODEL} \.+ \[(.+?) in ([\d.]+)s\]")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BenchError(Exception):
    """A benchmark step failed."""


@dataclass
class RunResult:
    """One subprocess run: its output lines with the monotonic time each arrived, and its resource usage."""

    started: float
    ended: float
    exit_code: int
    lines: list[tuple[float, str]] = field(default_factory=list)
    max_rss_mib: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def first(self, pattern: re.Pattern[str] | str) -> tuple[float, re.Match[str]] | None:
        for moment, line in self.lines:
            found = re.search(pattern, line)
            if found:
                return moment, found
        return None

    def last(self, pattern: re.Pattern[str] | str) -> tuple[float, re.Match[str]] | None:
        for moment, line in reversed(self.lines):
            found = re.search(pattern, line)
            if found:
                return moment, found
        return None

    def hook_lines(self) -> list[tuple[float, str]]:
        return [(t, line) for t, line in self.lines if line.startswith("gemini_batch:")]


def timed_run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> RunResult:
    """Run cmd, echo its output with the elapsed time of each line, and measure this child alone (wait4)."""
    print(f"\n$ {' '.join(cmd)}", flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    lines: list[tuple[float, str]] = []
    for raw in iter(proc.stdout.readline, ""):
        now = time.monotonic()
        line = raw.rstrip("\n")
        lines.append((now, ANSI.sub("", line)))
        print(f"  [{now - started:7.1f}s] {line}", flush=True)
    proc.stdout.close()
    # wait4 rather than proc.wait(): the rusage of this child (and its waited-for children) only.
    _, status, usage = os.wait4(proc.pid, 0)
    ended = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return RunResult(
        started=started,
        ended=ended,
        exit_code=proc.returncode,
        lines=lines,
        max_rss_mib=usage.ru_maxrss / 1024,  # KiB on Linux
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )


def run_checked(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> RunResult:
    result = timed_run(cmd, cwd, env)
    if result.exit_code != 0:
        raise BenchError(f"step failed (exit {result.exit_code}): {' '.join(cmd)}")
    return result


# -- the throwaway dbt project ---------------------------------------------------------------------------------------
def sql_pick(sentences: list[str], modulus_of: str) -> str:
    """SQL choosing one of the sentences by `mod(n, len)`; the texts hold no quote characters.

    CASE rather than an array literal indexed by `[offset(mod(n, k))]`: bqemulator 1.4 reads a computed array index
    1-based (`offset(0)` gives NULL), and through a view re-read by `create or replace table` over an existing table
    (what the materialization does on every run after the first) even `ordinal(mod(n, k) + 1)` comes out shifted by
    one, so the second run would see different requests (some NULL) instead of nothing pending."""
    for text in sentences:
        if "'" in text or '"' in text or "\\" in text:
            raise ValueError(f"sentence with a quote or backslash: {text!r}")
    branches = " ".join(f"when {i:d} then '{text}'" for i, text in enumerate(sentences[:-1]))
    return f"case mod({modulus_of}, {len(sentences):d}) {branches} else '{sentences[-1]}' end"


def _plus_one_percent(run: RunResult, new_rows: int) -> dict[str, float]:
    """The phases of the +1% run: dbt (start-up and the materialization, which rebuilds m__requests from the model's
    SQL), the hook's own work before and after the job, and the job itself."""
    node_done = run.first(DBT_NODE_TIME)
    submitted, seen, answered = run.first(SUBMITTED), run.last(SUCCEEDED_SEEN), run.last(ANSWERED)
    if node_done is None or submitted is None or seen is None or answered is None:
        raise BenchError("the +1% run did not print its node, submitted, SUCCEEDED and answered lines")
    if int(submitted[1].group(2)) != new_rows:
        raise BenchError(f"the +1% run sent {submitted[1].group(2)} requests, not the {new_rows} new ones")
    return {
        "dbt (start-up, materialization)": node_done[0] - run.started,
        "hook: count, guards, input, create (-> submitted)": submitted[0] - node_done[0],
        "job (submitted -> SUCCEEDED seen)": seen[0] - submitted[0],
        "hook: merge + ledger (SUCCEEDED -> answered)": answered[0] - seen[0],
        "hook: summary, drop tables (answered -> exit)": run.ended - answered[0],
    }


def model_sql(rows: int) -> str:
    slots = [sql_pick(s, "n") for s in (OPENINGS, MIDDLES, USAGE, DETAILS, CONTEXT, CLOSINGS)]
    prompt = "concat('Review ', cast(n as string), ': ', " + ", ' ', ".join(slots) + ")"
    return (
        "{{ config(materialized='gemini_batch') }}\n\n"
        "select\n"
        "    n as id,\n"
        "    {{ gemini_batch.request(\n"
        f'        prompt="{prompt}",\n'
        f"        response_schema={json.dumps(RESPONSE_SCHEMA)},\n"
        "    ) }} as request\n"
        f"from unnest(generate_array(1, {rows:d})) as n\n"
    )


def write_project(root: Path, repo: Path, rows: int) -> None:
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: gemini_batch_pipeline_bench\n"
        "version: 0.1.0\n"
        "config-version: 2\n"
        "profile: gemini_batch_integration_tests\n"
        'model-paths: ["models"]\n'
        "flags:\n"
        "  send_anonymous_usage_stats: false\n"
    )
    (root / "packages.yml").write_text(f"packages:\n  - local: {json.dumps(str(repo))}\n")
    shutil.copyfile(repo / "profiles.example.yml", root / "profiles.yml")
    (root / "models" / f"{MODEL}.sql").write_text(model_sql(rows))


def repo_root() -> Path:
    root = Path(__file__).resolve().parents[1]
    if not (root / "dbt_project.yml").exists() or not (root / "profiles.example.yml").exists():
        raise BenchError(f"not a dbt-gemini-batch checkout: {root}")
    return root


# -- process figures -------------------------------------------------------------------------------------------------
def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a running process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a running process (not of its children), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; fields[0] is the state (field 3)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_cpu(info: StackInfo) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in info.pids.items()}


def query_one(client: bigquery.Client, sql: str) -> bigquery.Row:
    for row in client.query(sql).result():
        return row
    raise BenchError(f"no row from: {sql}")


# -- the benchmark ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (project, logs)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="gemini-batch-pipeline-bench-"))
    try:
        stack = LocalStack(StackConfig.on_free_ports(tmp / "stack"))
        print("starting the local stack (bqemulator + Vertex AI batch emulator) ...", flush=True)
        info = stack.up()
        try:
            print(f"BigQuery at {info.bigquery_endpoint}, Vertex AI at {info.vertex_endpoint}", flush=True)
            return bench(info, tmp / "project", args.rows)
        except BenchError as exc:
            print(f"\nFAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            stopped = stack.down()
            print(f"local stack stopped ({', '.join(stopped) or 'nothing running'}).")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def bench(info: StackInfo, project: Path, rows: int) -> int:
    repo = repo_root()
    write_project(project, repo, rows)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, **info.env(), "GEMINI_BATCH_DATASET": DATASET, "GEMINI_BATCH_TARGET": "local"}
    common = ["--profiles-dir", str(project)]
    run_checked([str(bin_dir / "dbt"), "deps", *common], project, env)

    # 1. first run: materialization + submit + wait + merge
    cpu_before = stack_cpu(info)
    first = run_checked([str(bin_dir / "dbt-gemini-batch"), "run", *common], project, env)
    cpu_first = {k: v - cpu_before[k] for k, v in stack_cpu(info).items()}
    hook = first.hook_lines()
    submitted = first.first(SUBMITTED)
    seen = first.last(SUCCEEDED_SEEN)
    answered = first.last(ANSWERED)
    if not hook or submitted is None or seen is None or answered is None:
        raise BenchError("the first run did not print submitted / SUCCEEDED / answered lines (see its output above)")
    # More than max_requests_per_job rows (200,000) make several jobs: sum their collect lines.
    job_ids = [m.group(1) for _, line in first.lines if (m := SUBMITTED.search(line))]
    collected = [m for _, line in first.lines if (m := ANSWERED.search(line))]
    answered_rows = sum(int(m.group(2)) for m in collected)
    failed_rows = sum(int(m.group(3)) for m in collected)
    node_start = first.first(DBT_NODE_START)
    node_done = first.first(DBT_NODE_TIME)
    phases = {
        "materialization (start -> first gemini_batch line)": hook[0][0] - first.started,
        "input tables + create (-> submitted)": submitted[0] - hook[0][0],
        "job (submitted -> SUCCEEDED seen)": seen[0] - submitted[0],
        "merge + ledger (SUCCEEDED -> answered)": answered[0] - seen[0],
        "tail (answered -> exit: drop tables, dbt rest)": first.ended - answered[0],
    }

    # What Vertex itself says about the job(s): queueing and answering, without our polling interval.
    jobs = local_job_client(info.vertex_endpoint)
    states = [
        jobs.get_batch_prediction_job(name=f"projects/{info.project}/locations/{LOCATION}/batchPredictionJobs/{job_id}")
        for job_id in job_ids
    ]
    queued = (min(j.start_time for j in states) - min(j.create_time for j in states)).total_seconds()
    answering = (max(j.end_time for j in states) - min(j.start_time for j in states)).total_seconds()

    # 2. second run: nothing pending, the idempotent no-op
    cpu_before = stack_cpu(info)
    second = run_checked([str(bin_dir / "dbt-gemini-batch"), "run", *common], project, env)
    cpu_second = {k: v - cpu_before[k] for k, v in stack_cpu(info).items()}
    if second.first(rf"{MODEL}: 0 requests pending") is None:
        raise BenchError(f"the second run did not say '{MODEL}: 0 requests pending'")
    if second.first(SUBMITTED) is not None:
        raise BenchError("the second run submitted a job although every request was answered")

    # 3. +1%: the model gains 1% new rows; the hook's own time is the run's time outside dbt and outside the job
    grown = rows + max(1, rows // 100)
    (project / "models" / f"{MODEL}.sql").write_text(model_sql(grown))
    third = run_checked([str(bin_dir / "dbt-gemini-batch"), "run", *common], project, env)
    plus = _plus_one_percent(third, grown - rows)

    peak = {name: peak_rss_mib(pid) for name, pid in info.pids.items()}

    # 4. the result
    client = local_bigquery_client(info.bigquery_endpoint, info.project, LOCATION)
    row = query_one(
        client,
        "select count(*), countif(status = ''), avg(length(request)), "
        f"avg(length(json_value(request, '$.contents[0].parts[0].text'))) from `{DATASET}.{MODEL}`",
    )
    total_rows, answered_in_view = int(row[0]), int(row[1])
    request_chars, prompt_chars = float(row[2] or 0), float(row[3] or 0)
    ledger = query_one(
        client,
        "select count(*) as jobs, sum(request_count) as requests, sum(total_tokens) as tokens "
        # the ledger is append-only: a job's state is its latest event
        f"from (select * from `{DATASET}.gemini_batch_jobs` "
        "qualify row_number() over (partition by input_table order by updated_at desc) = 1)",
    )

    # -- figures
    print("\n== pipeline throughput")
    print(
        f"rows {rows:,}: prompt {prompt_chars:,.0f} chars, request JSON {request_chars:,.0f} chars on average "
        f"(prompt + responseSchema); {os.cpu_count()} CPUs, shared with other work"
    )
    print(f"job(s) {', '.join(job_ids)}: {answered_rows:,} answered, {failed_rows:,} failed rows")
    print(
        f"ledger: {ledger['jobs']} job(s), {ledger['requests']:,} requests, {ledger['tokens'] or 0:,} tokens; "
        f"view {DATASET}.{MODEL}: count(*) = {total_rows:,}, countif(status = '') = {answered_in_view:,}"
    )
    print("\nfirst run                                              seconds   share")
    for name, seconds in phases.items():
        print(f"  {name:<52} {seconds:7.1f}  {seconds / first.seconds:5.0%}")
        if name.startswith("materialization") and node_start and node_done:
            split = {
                "dbt start-up, parse, on-run-start (-> START)": node_start[0] - first.started,
                f"the {MODEL} node (START -> OK line)": node_done[0] - node_start[0],
                "hook start-up + pending count (-> first line)": hook[0][0] - node_done[0],
            }
            for part, part_seconds in split.items():
                print(f"    {part:<50} {part_seconds:7.1f}")
    print(f"  {'total':<52} {first.seconds:7.1f}  -> {rows / first.seconds:,.0f} rows/s overall")
    if node_done:
        print(f"  dbt's own time for the {MODEL} node: {float(node_done[1].group(2)):.1f}s ({node_done[1].group(1)})")
    print(
        f"  Vertex side: queued {queued:.1f}s, answering {answering:.1f}s "
        f"({rows / answering if answering > 0 else float('inf'):,.0f} rows/s); "
        f"polling adds {phases['job (submitted -> SUCCEEDED seen)'] - queued - answering:.1f}s"
    )
    print(f"second run (0 pending, no-op): {second.seconds:.1f}s")
    print(f"third run (+1%: {grown - rows:,} new rows of {grown:,}): {third.seconds:.1f}s")
    for name, seconds in plus.items():
        print(f"  {name:<52} {seconds:7.1f}")
    own = sum(v for k, v in plus.items() if k.startswith("hook"))
    print(f"  {'hook own time outside the job (target <= 10 s)':<52} {own:7.1f}  {'PASS' if own <= 10 else 'MISS'}")
    print("\nprocess              peak RSS MiB   CPU s run 1   CPU s run 2")
    for name, label in (("bigquery", "bqemulator"), ("vertex", "Vertex emulator")):
        print(f"  {label:<18} {peak[name]:12,.0f}   {cpu_first[name]:11.1f}   {cpu_second[name]:11.1f}")
    print(
        f"  dbt-gemini-batch   {max(first.max_rss_mib, second.max_rss_mib):12,.0f}   "
        f"{first.cpu_seconds:11.1f}   {second.cpu_seconds:11.1f}"
    )
    print(f"  (dbt-gemini-batch peak RSS per run: {first.max_rss_mib:,.0f} / {second.max_rss_mib:,.0f} MiB)")
    print(f"finished at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC")

    if (total_rows, answered_in_view, answered_rows) != (grown, grown, rows):
        raise BenchError(
            f"expected {grown} rows all answered ({rows} by the first run's jobs); got count(*) = {total_rows}, "
            f"answered = {answered_in_view}, the first run's job(s) answered {answered_rows}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
