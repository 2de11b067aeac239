"""`dbt-gemini-batch run|build`: dbt through dbtRunner, with the batch hook as a NodeFinished callback.

dbt schedules a node's dependants only after the callbacks for its NodeFinished event return, so models downstream of a
gemini_batch model see its answers in the same invocation. A callback must never raise (dbt 1.8-1.10 hang when one
does): failures are recorded and turned into the exit code after dbt returns.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence
from typing import Any

from gemini_batch.batch import NodeOutcome
from gemini_batch.dbt_project import MATERIALIZATION, DbtFlags
from gemini_batch.progress import Progress
from gemini_batch.session import Session


class HookRunner:
    def __init__(self, dbt_args: Sequence[str], wait: bool = True, progress: Progress | None = None) -> None:
        self.dbt_args = list(dbt_args)
        self.wait = wait
        self.progress = progress or Progress()
        self.flags = DbtFlags.from_args(self.dbt_args)
        self.outcomes: list[NodeOutcome] = []
        self.errors: list[str] = []
        self._session: Session | None = None
        self._lock = threading.Lock()

    def _open_session(self, invocation_id: str) -> Session:
        with self._lock:
            if self._session is None:
                self._session = Session.open(self.flags, invocation_id=invocation_id, progress=self.progress)
            return self._session

    def callback(self, event: Any) -> None:
        """dbt event callback. Never raises."""
        try:
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
            session = self._open_session(event.info.invocation_id)
            node = session.manifest.nodes.get(info.unique_id)
            if node is None:
                raise RuntimeError(f"{info.unique_id} is not in {self.flags.manifest_path}")
            outcome = session.runner.process(node, session.settings(node), wait=self.wait)
            with self._lock:
                self.outcomes.append(outcome)
                self.errors.extend(outcome.errors)
        except Exception as exc:  # a callback must not raise; see module docstring
            name = getattr(getattr(getattr(event, "data", None), "node_info", None), "node_name", "?")
            with self._lock:
                self.errors.append(f"{name}: {exc.__class__.__name__}: {exc}")
            self.progress.say(f"{name}: hook failed: {exc}\n{traceback.format_exc(limit=3)}")

    def invoke(self) -> int:
        """Run dbt with the hook; the exit code is dbt's, or 1 when any hook step failed."""
        from dbt.cli.main import dbtRunner

        result = dbtRunner(callbacks=[self.callback]).invoke(self.dbt_args)
        summary = summarize(self.outcomes)
        if summary:
            self.progress.say(summary)
        if self._session is not None and self.outcomes:
            self._report()
        for error in self.errors:
            self.progress.say(f"ERROR {error}")
        if result.exception is not None:
            return 2
        if not result.success or self.errors:
            return 1
        return 0

    def _report(self) -> None:
        """The end-of-run table and target/gemini_batch_results.json (spend/report.py); never fails the run."""
        from gemini_batch.spend.report import report_run

        try:
            report_run(self._session, [o.node for o in self.outcomes])
        except Exception as exc:  # a report must not turn a good run into a failed one
            self.progress.say(f"could not write the run summary: {exc.__class__.__name__}: {exc}")


def summarize(outcomes: list[NodeOutcome]) -> str:
    if not outcomes:
        return ""
    lines = ["summary:"]
    for o in outcomes:
        line = f"  {o.node}: {o.submitted_requests} request(s) submitted in {len(o.jobs)} job(s)"
        line += f", {o.succeeded} answered, {o.failed} failed rows"
        if o.exhausted:
            line += f", {o.exhausted} given up after max_attempts"
        if o.still_running:
            line += f", {len(o.still_running)} job(s) still running (collect later)"
        lines.append(line)
    return "\n".join(lines)
