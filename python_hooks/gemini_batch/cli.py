"""The `dbt-gemini-batch` command.

dbt-gemini-batch run|build [--no-wait] [any dbt args]   dbt with the batch hook (one shot)
dbt-gemini-batch submit  [--select M ...] [dbt flags]   after a plain `dbt run`: submit pending requests, don't wait
dbt-gemini-batch status  [--select M ...] [--failed]    pending / in flight / failed / given up, and the jobs
dbt-gemini-batch plan    [--select M ...] [dbt flags]   what a run would send and cost; builds and submits nothing
dbt-gemini-batch collect [--select M ...] [--wait]      merge finished jobs' answers (then `dbt run -s m+`)
dbt-gemini-batch cancel  [--select M ...] [dbt flags]   cancel jobs in flight
dbt-gemini-batch clean   [--select M ...] [dbt flags]   drop job tables a killed run left, and list them
dbt-gemini-batch doctor  [--select M ...] [dbt flags]   before a first paid run: credentials, locations, permissions
dbt-gemini-batch local up|down|status                  the local stack (BigQuery + Vertex emulators)
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gemini_batch.friendly_errors import one_sentence
from gemini_batch.progress import Progress

if TYPE_CHECKING:
    from gemini_batch.dbt_project import BatchNode, DbtFlags
    from gemini_batch.ledger import LedgerEntry
    from gemini_batch.session import Session
    from gemini_batch.settings import BatchSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


def _add_dbt_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--select", "-s", nargs="+", default=[], metavar="SELECTOR",
        help="gemini_batch models: names, or dbt selector syntax (tag:x, m+, path:...) resolved with `dbt ls`",
    )  # fmt: skip
    for flag in ("--project-dir", "--profiles-dir", "--target", "--profile", "--target-path", "--vars"):
        parser.add_argument(flag)


def _flags_as_dbt_args(ns: argparse.Namespace) -> list[str]:
    args = []
    for name in ("project_dir", "profiles_dir", "target", "profile", "target_path", "vars"):
        value = getattr(ns, name, None)
        if value:
            args += ["--" + name.replace("_", "-"), value]
    return args


def _add_interrupt_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cancel-on-interrupt", action="store_true",
        help="Ctrl-C while waiting cancels the jobs in flight (default: they keep running; exit code 130 either way)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dbt-gemini-batch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "build"):
        p = sub.add_parser(
            name,
            help=f"`dbt {name}` with the batch hook; other arguments go to dbt",
            description=f"`dbt {name}` with the batch hook: each gemini_batch model's new requests go to Vertex AI "
            "batch prediction as soon as dbt has built it, and the answers are merged before its dependants run.",
            epilog=f"Every other argument goes to `dbt {name}` unchanged, e.g. `dbt-gemini-batch {name} --select "
            f"my_model+ --target prod`; see `dbt {name} --help`. A selection without a gemini_batch model runs dbt "
            "and says that nothing was sent to Vertex AI (exit code: dbt's).",
        )
        p.add_argument("--no-wait", action="store_true", help="submit and return; collect on a later run")
        p.add_argument("--dry-run", action="store_true", help="print the plan (`dbt-gemini-batch plan`) instead")
        p.add_argument("--allow-over-budget", action="store_true", help="let this one run pass the spend guards")
        _add_interrupt_flag(p)
    for name, text in (
        ("submit", "submit pending requests of gemini_batch models (after a plain dbt run)"),
        ("status", "rows pending, in flight, failed (by error) and given up, and the ledger's jobs"),
        ("plan", "per model: rows, requests to send, re-sent, estimated tokens and cost; submits nothing"),
        ("collect", "merge the answers of finished jobs into m__responses"),
        ("cancel", "cancel jobs in flight"),
        ("clean", "drop job tables a killed run left (of jobs collected or never created) and list them"),
        ("doctor", "check credentials, locations and every permission a run needs; one line per check with its fix"),
    ):
        p = sub.add_parser(
            name,
            help=text,
            description=text,
            epilog=f"A --select that matches no gemini_batch model says so and exits {EXIT_OK}: nothing to do is "
            "not an error (as with dbt).",
        )
        _add_dbt_flags(p)
        if name == "collect":
            p.add_argument("--wait", action="store_true", help="wait for running jobs, then collect them")
        if name == "submit":
            p.add_argument("--wait", action="store_true", help="also wait and collect (like the one-shot run)")
            p.add_argument("--allow-over-budget", action="store_true", help="let this run pass the spend guards")
        if name == "status":
            p.add_argument("--failed", action="store_true", help="list every failed row's key and error")
        if name == "doctor":
            p.add_argument(
                "--canary", action="store_true",
                help="also send one 3-row job per configured transport (cost printed and confirmed first) and record "
                "what Vertex writes back, and whether BigQuery honours If-Match (target/gemini_batch_canary.json)",
            )  # fmt: skip
            p.add_argument("--yes", action="store_true", help="--canary without asking for confirmation")
            p.add_argument("--canary-timeout", type=float, default=60.0, metavar="MINUTES",
                           help="how long --canary waits for its jobs (default 60)")  # fmt: skip
        if name == "clean":
            p.add_argument(
                "--older-than",
                type=float,
                default=60.0,
                metavar="MINUTES",
                help="drop tables no ledger row names (and staging relations of builds) only when older than this "
                "(default 60: a run in progress may own them); 0 when nothing else runs",
            )
        if name in ("collect", "submit"):
            _add_interrupt_flag(p)
    compare = sub.add_parser(
        "compare",
        help="ask a sample of one model under a variant (prompt, system instruction, generation config, Gemini "
        "model): agreement with the current answers, tokens and cost of both, the cost of switching",
        description="Sends the sample's requests under the variant as a batch job (spend guards apply; the plan's "
        "cost is shown first), compares the answers field by field with the current ones, writes m__comparisons "
        "and target/gemini_batch_compare.json. The sampled answers are cached like any other.",
    )
    _add_dbt_flags(compare)
    from gemini_batch.spend.compare_command import add_arguments as add_compare_arguments

    add_compare_arguments(compare)
    local = sub.add_parser("local", help="the local stack: bqemulator + the Vertex AI batch emulator")
    from gemini_batch.local.cli import add_arguments

    add_arguments(local)
    return parser


@one_sentence  # an expired token or a stopped local stack: one sentence, not a traceback
def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in ("run", "build"):
        # Everything we do not know belongs to dbt, untouched.
        ns, dbt_rest = parser.parse_known_args(argv)
        if ns.allow_over_budget:
            allow_over_budget()
        if ns.dry_run:
            from gemini_batch.spend.plan_command import dry_run

            return dry_run(dbt_rest)
        from gemini_batch.runner import HookRunner

        hook = HookRunner([argv[0], *dbt_rest], wait=not ns.no_wait, cancel_on_interrupt=ns.cancel_on_interrupt)
        code = hook.invoke()
        if not hook.outcomes and not hook.errors:
            print(f"no gemini_batch model was built by this `dbt {argv[0]}`: nothing was sent to Vertex AI")
        return code
    ns = parser.parse_args(argv)
    if ns.command == "local":
        from gemini_batch.local.cli import run as run_local

        return run_local(ns)
    if getattr(ns, "allow_over_budget", False):
        allow_over_budget()
    if ns.command == "doctor":
        return doctor_command(ns)
    if ns.command == "plan":
        from gemini_batch.spend.plan_command import plan

        return plan(_flags_as_dbt_args(ns), ns.select)
    if ns.command == "compare":
        from gemini_batch.spend.compare_command import compare

        return compare(_flags_as_dbt_args(ns), ns.select, ns)
    return scheduler_command(ns)


def _open_selection(ns: argparse.Namespace, progress: Progress) -> tuple[DbtFlags, Session, list[BatchNode]] | None:
    """(dbt flags, session, selected gemini_batch models) of a command; None, having said so, when none is selected."""
    from gemini_batch.dbt_project import DbtFlags, select_nodes
    from gemini_batch.session import Session

    flags = DbtFlags.from_args(_flags_as_dbt_args(ns))
    session = Session.open(flags, progress=progress)
    nodes = select_nodes(flags, session.manifest, ns.select)
    if not nodes:
        progress.say(_nothing_selected(ns.select))
        return None
    return flags, session, nodes


def scheduler_command(ns: argparse.Namespace) -> int:
    """submit | status | collect | cancel, from target/manifest.json and the ledger."""
    from gemini_batch.batch import BatchError, NodeOutcome
    from gemini_batch.batch.flight import Interrupted, ModelFlight
    from gemini_batch.dbt_project import ProjectError, failed_nodes
    from gemini_batch.ledger import LedgerError
    from gemini_batch.runner import summarize
    from gemini_batch.settings import SettingsError

    progress = Progress()
    try:
        opened = _open_selection(ns, progress)
        if opened is None:
            return EXIT_OK
        flags, session, nodes = opened
        runner = session.runner
        settings, problems = session.checked_settings(nodes)  # every model's configuration problems at once
        if ns.command == "status":
            return _print_status(session, nodes, settings, problems, failed_only=ns.failed)
        if problems:
            for problem in problems:
                progress.say(f"ERROR {problem}")
            return EXIT_USAGE
        if ns.command == "clean":
            from gemini_batch.batch.clean import clean

            for node in nodes:
                dropped = clean(
                    runner.ctx, node, settings=settings[node.unique_id], older_than=dt.timedelta(minutes=ns.older_than)
                )
                for table in dropped:
                    print(f"dropped {table}")
                progress.say(f"{node.name}: {len(dropped)} leftover table(s) dropped")
            return EXIT_OK
        if ns.command == "cancel":
            for node in nodes:
                runner.cancel(node, settings[node.unique_id])
            return EXIT_OK
        # One set of jobs in flight for all selected models: their waits overlap and the caps count them all.
        flights = runner.flights()
        broken = failed_nodes(flights_path := flags.run_results_path)
        collect_only = ns.command == "collect"
        for node in nodes:
            outcome = NodeOutcome(node=node.name)
            if not collect_only and node.unique_id in broken:
                outcome.errors.append(
                    f"{node.name}: its last dbt run did not succeed ({flights_path}); fix and re-run "
                    "dbt before submitting"
                )
                flights.models[node.unique_id] = ModelFlight(node, settings[node.unique_id], outcome, stopped=True)
                continue
            if not collect_only and not runner.ctx.table_exists(node.requests_table):
                progress.say(
                    f"{node.name}: not built yet ({node.requests_table} does not exist): nothing to submit; run "
                    f"`dbt run --select {node.name}` first"
                )
                continue
            flight = flights.add(node, settings[node.unique_id], outcome, submit_new=not collect_only)
            if collect_only and not flight.in_flight:
                progress.say(f"{node.name}: no job to collect")
        try:
            if ns.wait:
                flights.wait(cancel_on_interrupt=ns.cancel_on_interrupt)
            elif collect_only:
                flights.poll_once(time.monotonic())  # merge what has ended; leave the rest running
                flights.leave_running("still running")
            else:
                runner.leave(flights, why="not waited for (`submit --wait` waits)")
        except Interrupted as exc:
            progress.say(str(exc))
            return EXIT_INTERRUPTED
        outcomes = [f.outcome for f in flights.models.values()]
        if collect_only:
            for o in outcomes:
                if o.succeeded or o.failed:
                    progress.say(f"{o.node}: answers merged; rebuild what reads them with `dbt run -s {o.node}+`")
        summary = summarize(outcomes)
        if summary:
            progress.say(summary)
        errors = [e for o in outcomes for e in o.errors]
        for error in errors:
            progress.say(f"ERROR {error}")
        return EXIT_FAILED if errors else EXIT_OK
    except (ProjectError, SettingsError, LedgerError, BatchError) as exc:
        progress.say(f"ERROR {exc}")
        return EXIT_USAGE if isinstance(exc, ProjectError | SettingsError) else EXIT_FAILED


def doctor_command(ns: argparse.Namespace) -> int:
    """`doctor`: every check of gemini_batch.doctor for the selected models; exit 1 when one fails."""
    from gemini_batch.dbt_project import ProjectError
    from gemini_batch.doctor import Doctor, report, resource_manager_client
    from gemini_batch.settings import SettingsError

    progress = Progress()
    try:
        opened = _open_selection(ns, progress)
        if opened is None:
            return EXIT_OK
        flags, session, nodes = opened
        doctor = Doctor(session.runner.ctx, session.credentials, session.settings,
                        resource_manager_client(session.credentials))  # fmt: skip
        text, healthy = report(doctor.run(nodes))
        print(text)
        if not ns.canary:
            return EXIT_OK if healthy else EXIT_FAILED
        if not healthy:
            print("canary not sent: fix the failures above first")
            return EXIT_FAILED
        from gemini_batch import canary

        the_plan = canary.plan(nodes, session.settings)
        print(the_plan.describe())
        if not ns.yes:
            if not sys.stdin.isatty():
                print("canary not sent: confirm with --yes (no terminal to ask)")
                return EXIT_FAILED
            if input("send it? [y/N] ").strip().lower() not in ("y", "yes"):
                print("canary not sent")
                return EXIT_OK
        path = canary.result_path(flags.project_dir, flags.target_path)
        result = canary.run(session.runner.ctx, nodes, session.settings, the_plan, ns.canary_timeout * 60, path)
        print("\n".join(canary.summary(result)))
        print(f"kept in {path}; `dbt-gemini-batch status` shows it")
        failed = [t for t, found in result["transports"].items() if "error" in found]
        return EXIT_FAILED if failed else EXIT_OK
    except (ProjectError, SettingsError) as exc:
        progress.say(f"ERROR {exc}")
        return EXIT_USAGE


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dbt-gemini-batch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _nothing_selected(select: list[str]) -> str:
    if select:
        return f"no gemini_batch model matches --select {' '.join(select)}: nothing to do"
    return "this dbt project has no gemini_batch model (materialized='gemini_batch'): nothing to do"


def allow_over_budget() -> None:
    """--allow-over-budget: the spend guards let this one process through (spend/guards.py reads it)."""
    import os

    from gemini_batch.spend.guards import ALLOW_ENV

    os.environ[ALLOW_ENV] = "1"


def _print_status(
    session: Session,
    nodes: list[BatchNode],
    settings: dict[str, BatchSettings],
    problems: list[str],
    failed_only: bool = False,
) -> int:
    """Every model it can report, one line per model it cannot (and why); exit 1 only for those."""
    from google.api_core import exceptions as gexc

    from gemini_batch.batch import BatchError
    from gemini_batch.friendly_errors import explain
    from gemini_batch.ledger import LedgerError
    from gemini_batch.spend.status import failed_rows, format_status, model_status

    runner = session.runner
    cannot = [f"ERROR cannot report: {problem}" for problem in problems]
    reportable = [n for n in nodes if n.unique_id in settings]
    ledger_exists = runner.ctx.table_exists(runner.ledger.table)
    live: dict[str, str] = {}

    def live_state(entry: LedgerEntry) -> str:
        """The job's state at Vertex, asked once per job for the counts and the table."""
        if entry.job_name not in live:
            node = next(n for n in reportable if n.unique_id == entry.dbt_node)
            live[entry.job_name or ""] = runner.get_job(settings[node.unique_id], entry).state.name
        return live[entry.job_name or ""]

    failed_count = 0
    for node in reportable:
        try:
            if failed_only:
                if not runner.ctx.table_exists(node.requests_table):
                    print(
                        format_status({"model": node.name, "missing": True, "requests_table": node.requests_table})[0]
                    )
                    continue
                for row in failed_rows(runner.ctx, node, settings[node.unique_id], grouped=False):
                    state = "given up" if row["given_up"] else f"attempt {row['attempts']}"
                    print(f"{node.name}\t{row['row_key']}\t{state}\t{row['error']}")
                    failed_count += 1
                continue
            # without a ledger (made by the first dbt run's on-run-start) no job was ever recorded
            jobs: list[LedgerEntry] | None = None if ledger_exists else []
            status = model_status(runner.ctx, node, settings[node.unique_id], live_state=live_state, jobs=jobs)
            for line in format_status(status):
                print(line)
        except (BatchError, LedgerError, gexc.GoogleAPICallError) as exc:
            cannot.append(f"ERROR cannot report {node.name}: {explain(exc) or exc}")
    if failed_only and not failed_count and reportable:
        print("no failed requests in " + ", ".join(n.name for n in reportable))
    if not failed_only:
        _print_canary(session)  # what the last `doctor --canary` found, when it ran here
    if not failed_only and reportable:
        _print_jobs(session, reportable, ledger_exists, live_state)
    for line in cannot:
        Progress().say(line)
    return EXIT_FAILED if cannot else EXIT_OK


def _print_jobs(session: Session, nodes: list[BatchNode], ledger_exists: bool, live_state: Any) -> None:
    runner = session.runner
    entries = (
        runner.ledger.recent([n.unique_id for n in nodes], responses_tables=[n.responses_table for n in nodes])
        if ledger_exists
        else []
    )
    if not entries:
        print("no batch jobs in the ledger for these models")
        return
    by_id = {n.unique_id: n for n in nodes}
    print(f"{'model':<28} {'job':<22} {'state':<14} {'requests':>9} {'ok':>8} {'failed':>7}  submitted")
    for e in entries:
        state = e.state
        if e.job_name and not e.is_collected:
            state = live_state(e) + " (live)"
        short = (e.job_name or "-").rsplit("/", 1)[-1]
        print(
            f"{by_id[e.dbt_node].name if e.dbt_node in by_id else e.dbt_node:<28} {short:<22} "
            f"{state.removeprefix('JOB_STATE_'):<14} {e.request_count or 0:>9} {e.succeeded_count or 0:>8} "
            f"{e.failed_count or 0:>7}  {e.submitted_at:%Y-%m-%d %H:%M}"
        )


def _print_canary(session: Session) -> None:
    """What the last `doctor --canary` found, when it ran in this project."""
    import json

    from gemini_batch.canary import result_path, summary

    path = result_path(session.flags.project_dir, session.flags.target_path)
    if path.exists():
        for line in summary(json.loads(path.read_text())):
            print(line)


def entry_point() -> None:
    """The `dbt-gemini-batch` console script: main(), then an exit without CPython's interpreter teardown.

    After a dbt invocation that teardown (finalising dbt's and the Google clients' modules and objects) adds 0.7-0.9 s
    to every command, with nothing left to write: the atexit handlers (logging's flush of dbt's log file among them)
    run first, and the shortcut is taken only when no other thread is alive (one would be stopped mid-way)."""
    code = main()
    if threading.active_count() == 1:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry_point()
