"""`dbt-gemini-batch run|build`: dbt through dbtRunner, with the batch hook as a NodeFinished callback that only
submits.

The whole selection runs in one dbt invocation, so a run with nothing to send costs what plain dbt costs. When a batch
model has something to wait for (it submitted jobs, or jobs of an earlier run are in flight), every job is waited for
together after that invocation and merged as it ends; then the nodes downstream of those models (models that read
their answers, `build`'s tests of them) are built again in phases at each batch boundary (phases.py), so they see the
answers, and no dbt thread waits. A batch model downstream of one with jobs in flight sends nothing in the first
invocation (its requests would be made of answers not merged yet); it is sent when built again.
A callback must never raise (dbt 1.8-1.10 hang when one does): failures are recorded and turned into the exit code
after dbt returns.
"""

from __future__ import annotations

import os
import signal
import threading
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gemini_batch.batch import published_counts
from gemini_batch.batch.common import Interrupted, NodeOutcome
from gemini_batch.dbt_project import MATERIALIZATION, DbtFlags
from gemini_batch.phases import Graph, phases_of, split_args
from gemini_batch.progress import Progress

if TYPE_CHECKING:
    from gemini_batch.batch.flight import Flights
    from gemini_batch.session import Session

# Read by the materialization (macros/materializations/gemini_batch.sql): the hook is about to send the pending rows,
# so the model does not warn about them. An environment variable and not a --vars entry: dbt's partial parsing starts
# over whenever --vars differ from the last invocation's, so a var would make every `dbt-gemini-batch run` after a
# plain `dbt run` (and the other way round) parse the whole project again. Runtime env_var() calls are not tracked by
# partial parsing.
HOOK_ACTIVE_ENV = "GEMINI_BATCH_HOOK_ACTIVE"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_USAGE = 2  # as dbt and the other commands for a configuration problem
FAILED_STATUSES = {"error", "fail", "skipped", "runtime error"}


class HookRunner:
    def __init__(
        self,
        dbt_args: Sequence[str],
        wait: bool = True,
        progress: Progress | None = None,
        cancel_on_interrupt: bool = False,
    ) -> None:
        # The materialization's pending-work warning (on_pending) is for plain dbt runs; here the hook sends them.
        self.dbt_args = list(dbt_args)
        self.wait = wait
        self.cancel_on_interrupt = cancel_on_interrupt
        self.progress = progress or Progress()
        self.flags = DbtFlags.from_args(self.dbt_args)
        self.outcomes: list[NodeOutcome] = []
        self.errors: list[str] = []
        self._session: Session | None = None
        self._flights: Flights | None = None
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None
        self._sigint_seen = False
        self._in_dbt = False  # a Ctrl-C while dbt runs a phase is handled differently from one while waiting
        self._graph_cache: Graph | None = None

    def _open_session(self, invocation_id: str) -> tuple[Session, Flights]:
        from gemini_batch.session import Session  # imported by _warm_imports meanwhile, if not already

        with self._lock:
            if self._session is None:
                self._session = Session.open(
                    self.flags, invocation_id=invocation_id, progress=self.progress, check=False
                )  # checked by _invoke before dbt started
                self._flights = self._session.runner.flights()
            assert self._flights is not None
            return self._session, self._flights

    def callback(self, event: Any) -> None:
        """dbt event callback: submits a built gemini_batch model's requests, never waits (see phases.py). Never
        raises."""
        try:
            if event.info.name == "NodeStart" and self._warming is None:
                # dbt now mostly waits on BigQuery: import what the hook needs meanwhile (earlier, the import would
                # compete with dbt's own CPU-bound start-up for the GIL and slow it down)
                self._warming = threading.Thread(target=_warm_imports, name="gemini-batch-imports", daemon=True)
                self._warming.start()
            if event.info.name == "JinjaLogDebug":
                # the materialization's count of a model with nothing pending (batch/plan.py count_requests)
                published_counts.remember_published_counts(event.data.msg)
                return
            if event.info.name == "NodeStart" and event.data.node_info.materialized == MATERIALIZATION:
                published_counts.discard(event.data.node_info.unique_id)  # built again: an older count is stale
            if event.info.name != "NodeFinished":
                return
            info = event.data.node_info
            if info.materialized != MATERIALIZATION:
                return
            if event.data.run_result.status != "success":
                self.progress.say(
                    f"{info.node_name}: dbt did not build it ({event.data.run_result.status}); nothing sent"
                )
                return
            if self._sigint_seen:
                self.progress.say(f"{info.node_name}: interrupted before it was sent; nothing sent")
                return
            session, flights = self._open_session(event.info.invocation_id)
            node = session.manifest.nodes.get(info.unique_id)
            if node is None:
                raise RuntimeError(f"{info.unique_id} is not in {self.flags.manifest_path}")
            with self._lock:  # one submitter at a time: the caps count every model's jobs
                # Built on answers not merged yet (a batch model upstream has jobs in flight): sent only when it is
                # built again after they are (_downstream_of_work), never from requests made of missing answers.
                waiting_on = self._graph().ancestors(info.unique_id) & self._busy_models()
                if waiting_on:
                    names = ", ".join(sorted(uid.rsplit(".", 1)[-1] for uid in waiting_on))
                    self.progress.say(f"{info.node_name}: waits for the answers of {names}; sent after they are merged")
                    return
                flights.add(node, session.settings(node))
        except Exception as exc:  # a callback must not raise; see module docstring
            name = getattr(getattr(getattr(event, "data", None), "node_info", None), "node_name", "?")
            with self._lock:
                self.errors.append(f"{name}: {exc.__class__.__name__}: {exc}")
            self.progress.say(f"{name}: hook failed: {exc}\n{traceback.format_exc(limit=3)}")

    def invoke(self) -> int:
        """Run dbt with the hook, phase by phase; the exit code is dbt's, 1 when a hook step failed, 130 on Ctrl-C."""
        try:
            return self._invoke()
        finally:
            if self._warming is not None:
                self._warming.join()

    def _invoke(self) -> int:
        check_target(self.flags)
        codes: list[int] = []
        previous_handler = self._watch_sigint()
        try:
            # One dbt invocation of the whole selection: an unchanged re-run costs what plain dbt costs. Only when a
            # batch model has something to wait for are its downstream nodes built again, in phases, once its answers
            # are merged (phases.py).
            failed: set[str] = set()
            executed: set[str] = set()
            first = self._invoke_dbt(self.dbt_args, failed, executed)
            rerun = self._downstream_of_work(executed) if self.wait else set()
            if not rerun:
                codes.append(first)
                self._finish_phase()
            else:
                # the nodes built again now count for the exit code, not their first build on stale answers
                codes.append(first if failed - rerun or first == 2 else 0)
                self._finish_phase()
                codes.extend(self._run_phases(rerun, failed - rerun))
        except KeyboardInterrupt:
            # Ctrl-C while dbt itself ran a phase: jobs already submitted go on, as with a Ctrl-C while waiting.
            self._gather()
            flights = self._flights
            message = flights.interrupted(self.cancel_on_interrupt) if flights else "interrupted; no job was in flight"
            self.progress.say(message)
            return EXIT_INTERRUPTED
        except Interrupted as exc:
            self._gather()
            self.progress.say(str(exc))
            return EXIT_INTERRUPTED
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        self._gather()
        # One end-of-run summary: the table computed from the ledger after every merge (spend/report.py); the
        # in-memory tally only when that table cannot be made.
        if not (self._session is not None and self.outcomes and self._report()):
            summary = summarize(self.outcomes)
            if summary:
                self.progress.say(summary)
        for error in self.errors:
            self.progress.say(f"ERROR {error}")
        worst = max(codes, default=0)
        if worst:
            return worst
        return 1 if self.errors else 0

    def _graph(self) -> Graph:
        if self._graph_cache is None:
            self._graph_cache = Graph.load(self.flags.manifest_path)
        return self._graph_cache

    def _busy_models(self) -> set[str]:
        """The gemini_batch models with jobs in flight or queued: something to wait for."""
        flights = self._flights
        if flights is None:
            return set()
        return {uid for uid, f in flights.models.items() if f.in_flight or (f.queued and not f.stopped)}

    def _downstream_of_work(self, executed: set[str]) -> set[str]:
        """The nodes of the first invocation that read answers not merged yet: built again once they are."""
        busy = self._busy_models()
        if not busy:
            return set()
        rerun = self._graph().descendants(busy) & executed
        if rerun:
            names = ", ".join(sorted(uid.rsplit(".", 1)[-1] for uid in busy))
            self.progress.say(f"{len(rerun)} node(s) downstream of {names} are built again once its answers are merged")
        return rerun

    def _run_phases(self, nodes: set[str], failed: set[str]) -> list[int]:
        """Build `nodes` again, phase by phase (phases.py), each phase after the jobs of the one before are merged."""
        command, args = self.dbt_args[0], self.dbt_args[1:]
        graph = self._graph()
        _, project, rest = split_args(args)
        codes: list[int] = []
        for k, group in enumerate(phases_of(graph, nodes), start=1):
            blocked = graph.descendants(failed)
            todo = [uid for uid in group if uid not in blocked]
            if len(todo) < len(group):
                self.progress.say(f"phase {k}: {len(group) - len(todo)} node(s) not run: upstream of them failed")
            if not todo:
                continue
            self.progress.say(f"phase {k}: {len(todo)} node(s)")
            selectors = [graph.selector(uid) for uid in todo]
            phase_args = [command, *project, *rest, "--select", *selectors, "--indirect-selection", "empty"]
            codes.append(self._invoke_dbt(phase_args, failed))
            # A batch step that failed (a FAILED job, a rejected create) does not hold back the models downstream:
            # the batch model's view is built and shows those rows as pending or failed, as after a plain `dbt run`;
            # the exit code says it. Only what dbt itself failed to build blocks them.
            self._finish_phase()
        return codes

    def _flight_models(self) -> list[Any]:
        return list(self._flights.models.values()) if self._flights else []

    def _finish_phase(self) -> None:
        """Wait for every job the phase submitted, merging each as it ends (or leave them running: --no-wait)."""
        if self._flights is None or self._session is None:
            return
        if self.wait:
            self._flights.wait(cancel_on_interrupt=self.cancel_on_interrupt)
        else:
            self._session.runner.leave(self._flights)

    def _gather(self) -> None:
        self.outcomes = [f.outcome for f in self._flight_models()]
        self.errors.extend(e for o in self.outcomes for e in o.errors)

    def _watch_sigint(self) -> Any:
        """Remember a Ctrl-C even when dbt swallows it (dbt stops its run and returns a result): the hook must then
        stop too instead of going on to wait. Only the main thread can set signal handlers."""
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            if not self._in_dbt or self._sigint_seen:  # waiting: stop now; in dbt, the second Ctrl-C stops dbt
                self._sigint_seen = True
                if callable(previous):
                    previous(signum, frame)
                raise KeyboardInterrupt
            # The first one lets dbt finish the models it is building (quick; an interrupted dbt prints tracebacks
            # and leaves relations half-built), sends nothing more and never starts waiting.
            self._sigint_seen = True
            self.progress.say(
                "interrupted: dbt finishes the models it is building; nothing more is sent to Vertex AI "
                "(Ctrl-C again to stop dbt now)"
            )

        signal.signal(signal.SIGINT, handler)
        return previous

    def _invoke_dbt(self, args: list[str], failed: set[str] | None = None, executed: set[str] | None = None) -> int:
        from dbt.cli.main import dbtRunner

        if self._sigint_seen:
            raise KeyboardInterrupt
        self._in_dbt = True
        previous = os.environ.get(HOOK_ACTIVE_ENV)
        os.environ[HOOK_ACTIVE_ENV] = "1"
        try:
            result = dbtRunner(callbacks=[self.callback]).invoke(args)
        finally:
            self._in_dbt = False
            if previous is None:
                os.environ.pop(HOOK_ACTIVE_ENV, None)
            else:
                os.environ[HOOK_ACTIVE_ENV] = previous
        if self._sigint_seen or isinstance(result.exception, KeyboardInterrupt):
            raise KeyboardInterrupt
        for item in getattr(result.result, "results", None) or []:
            if executed is not None:
                executed.add(item.node.unique_id)
            if failed is not None and str(getattr(item, "status", "")).lower() in FAILED_STATUSES:
                failed.add(item.node.unique_id)
        if result.exception is not None:
            return 2
        return 0 if result.success else 1

    def _report(self) -> bool:
        """The end-of-run table and target/gemini_batch_results.json (spend/report.py), counting the jobs of earlier
        runs this one collected; never fails the run. False when it could not be made."""
        from gemini_batch.spend.report import report_run

        collected = {o.node: o.collected for o in self.outcomes}
        try:
            report_run(self._session, [o.node for o in self.outcomes], collected)
        except Exception as exc:  # a report must not turn a good run into a failed one
            self.progress.say(f"could not write the run summary: {exc.__class__.__name__}: {exc}")
            return False
        return True


def check_target(flags: DbtFlags) -> None:
    """The target's credentials and services, checked once before dbt starts (reachability.py): a stopped or stuck
    local stack, an unreachable BigQuery or a bad key file is one sentence within seconds, not dbt's retries for
    minutes (or its interactive `gcloud auth` prompt) in each phase. A profile dbt cannot load is left to dbt to say."""
    from gemini_batch.dbt_project import ProjectError, load_credentials
    from gemini_batch.reachability import check_services

    try:
        credentials = load_credentials(flags)
    except ProjectError:
        return
    check_services(credentials)


def _warm_imports() -> None:
    """Import the batch steps and the Vertex AI client (~0.6 s of CPU) while dbt waits on BigQuery for the models'
    SQL, instead of after the first gemini_batch model is built (started by the callback on dbt's first NodeStart).
    Python's import locks make the first use wait for an import under way; a failure here is left for that use to
    raise."""
    try:
        import gemini_batch.batch.flight
        import gemini_batch.session  # noqa: F401
    except Exception:  # noqa: S110 - the real import, on first use, reports it
        pass


def summarize(outcomes: list[NodeOutcome]) -> str:
    if not outcomes:
        return ""
    lines = ["summary:"]
    for o in outcomes:
        # every figure counts requests (distinct request_hash sent in a job), never rows of the model
        line = f"  {o.node}: {o.submitted_requests} requests submitted in {len(o.jobs)} job(s)"
        line += f", {o.succeeded} requests answered, {o.failed} requests failed"
        if o.missing:
            line += f", {o.missing} requests sent but not answered (still pending)"
        if o.exhausted:
            line += f", {o.exhausted} requests given up after max_attempts"
        if o.still_running:
            line += f", {len(o.still_running)} job(s) still running (collect later)"
        lines.append(line)
    return "\n".join(lines)
