"""The jobs of one invocation in flight: submit within the caps, merge each job as soon as it ends, submit the next.

Why one object for the whole invocation rather than a loop per model: a wait must never hold a dbt thread (the
runner's phases call `add` from dbt's callback, which only submits, and `wait` after dbt returns), and the project
cap is shared by every model. Per model the steps are those of the package docstring:
  1. jobs an earlier run left uncollected are adopted first; new work is planned only once they are merged, so a hash
     in flight is never sent again;
  2. the pending hashes are split into hash buckets (submit.plan_chunks) and queued;
  3. a bucket is written and submitted while the model has fewer than max_jobs_in_flight_per_model jobs in flight and
     the invocation fewer than the project cap;
  4. each job is merged (collect) as soon as it ends, which frees a place for the next bucket;
  5. a cascade (escalate_to): once the first tier is all merged, its matching rows go out as a second tier's flight.
The default caps follow Vertex's documented limit of 8 concurrent Gemini batch prediction jobs (cloud.google.com/
vertex-ai/generative-ai/docs/quotas, "Concurrent batch prediction request limits": Gemini models 8; more jobs are
queued by Vertex, not refused, so a higher cap only queues on Google's side).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from google.cloud import aiplatform_v1

from gemini_batch.batch import collect as collect_step
from gemini_batch.batch import escalate, lease
from gemini_batch.batch import submit as submit_step
from gemini_batch.batch.common import TERMINAL_STATES, BatchError, Interrupted, NodeOutcome
from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.wait import get_job
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import SUBMITTING, LedgerEntry
from gemini_batch.settings import BatchSettings

# a module import, not a name: spend.guards imports gemini_batch.batch, which imports this module
from gemini_batch.spend import guards as spend_guards

VERTEX_CONCURRENT_GEMINI_JOBS = 8  # see the module docstring for the source
ENV_MAX_JOBS_IN_FLIGHT = "GEMINI_BATCH_MAX_JOBS_IN_FLIGHT"


def project_cap_from_env(env: dict[str, str] | None = None) -> int:
    """The per-invocation cap on jobs in flight over all models (GEMINI_BATCH_MAX_JOBS_IN_FLIGHT, default 8)."""
    raw = (os.environ if env is None else env).get(ENV_MAX_JOBS_IN_FLIGHT, "").strip()
    if not raw:
        return VERTEX_CONCURRENT_GEMINI_JOBS
    if not raw.isdigit() or int(raw) < 1:
        raise BatchError(f"{ENV_MAX_JOBS_IN_FLIGHT}={raw!r} must be a whole number of at least 1")
    return int(raw)


@dataclass
class ModelFlight:
    node: BatchNode
    settings: BatchSettings
    outcome: NodeOutcome
    in_flight: list[LedgerEntry] = field(default_factory=list)
    plan: submit_step.ChunkPlan | None = None
    planned: bool = False
    stopped: bool = False  # an error: submit nothing more for this model in this invocation
    checked: bool = False  # max_error_ratio applied once all of the model's jobs were merged

    @property
    def queued(self) -> int:
        return len(self.plan.queued) if self.plan else 0


class Flights:
    def __init__(
        self,
        ctx: BatchContext,
        project_cap: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ctx = ctx
        self.project_cap = project_cap or project_cap_from_env()
        self.sleep = sleep
        self.models: dict[str, ModelFlight] = {}

    # -- submission --------------------------------------------------------------------------------------------
    def add(
        self, node: BatchNode, settings: BatchSettings, outcome: NodeOutcome | None = None, submit_new: bool = True
    ) -> ModelFlight:
        """Adopt the model's uncollected jobs, and (submit_new) plan and submit its pending requests within the caps,
        once the adopted jobs are merged. Never waits."""
        flight = ModelFlight(node, settings, outcome or NodeOutcome(node=node.name), planned=not submit_new)
        self.models[node.unique_id] = flight
        open_jobs = self.ctx.ledger.uncollected(node.unique_id, node.responses_table)
        if open_jobs:
            self.ctx.progress.say(
                f"{node.name}: {len(open_jobs)} job(s) from an earlier run not collected yet, resuming"
            )
        if any(entry.state == SUBMITTING for entry in open_jobs):
            try:
                open_jobs = self._recover(flight, open_jobs)
            except lease.LeaseLost as exc:
                self._lost(flight, exc)
                return flight
            except BatchError as exc:  # the lease stayed busy, or a job that exists cannot be listed yet
                flight.stopped = True
                flight.outcome.errors.append(str(exc))
                self.ctx.progress.say(f"ERROR {exc}")
                return flight
        flight.in_flight.extend(entry for entry in open_jobs if entry.job_name and not entry.is_collected)
        self.pump()
        return flight

    def _recover(self, flight: ModelFlight, open_jobs: list[LedgerEntry]) -> list[LedgerEntry]:
        """Resolve the SUBMITTING rows under the submit lease (item: recovery never runs outside it). Each row is read
        again once the lease is ours: the run that wrote it may have finished its create meanwhile."""
        resolved = []
        with lease.held(self.ctx, flight.node, lease.SUBMIT) as held:
            for entry in open_jobs:
                if entry.state == SUBMITTING:
                    entry = self.ctx.ledger.current(entry) or entry
                if entry.state == SUBMITTING:
                    submit_step.recover_submitting(self.ctx, flight.settings, entry, held)
                resolved.append(entry)
        return resolved

    def _lost(self, flight: ModelFlight, exc: lease.LeaseLost) -> None:
        """This run lost the model's lease: stop submitting and merging for it; its jobs stay in the ledger for the
        run holding the lease (or the next one)."""
        flight.stopped = True
        flight.plan = None
        flight.in_flight.clear()
        flight.outcome.errors.append(str(exc))
        self.ctx.progress.say(f"ERROR {exc}")

    def in_flight(self) -> int:
        return sum(len(f.in_flight) for f in self.models.values())

    def pump(self) -> None:
        """Plan models whose earlier jobs are all merged; submit queued buckets while both caps leave room."""
        for flight in self.models.values():
            if flight.stopped:
                continue
            try:
                needs_plan = not flight.planned and not flight.in_flight
                if needs_plan or (flight.plan and flight.plan.queued and self._room(flight)):
                    self._submit_exclusively(flight, needs_plan)
            except lease.LeaseLost as exc:
                self._lost(flight, exc)
            except BatchError as exc:
                flight.stopped = True
                flight.outcome.errors.append(str(exc))
                self.ctx.progress.say(f"ERROR {exc}")

    def _room(self, flight: ModelFlight) -> bool:
        return (
            len(flight.in_flight) < flight.settings.max_jobs_in_flight_per_model and self.in_flight() < self.project_cap
        )

    def _submit_exclusively(self, flight: ModelFlight, needs_plan: bool) -> None:
        """Plan and submit under the answer cache's submit lease (batch/lease.py): one submitter at a time, across
        processes and machines. Under the lease, jobs of this cache that another run has in flight are adopted instead
        of sending their rows again (their hashes are not answered yet, so a pending count would include them), and
        this run's own queue is planned again once they are merged."""
        with lease.held(self.ctx, flight.node, lease.SUBMIT) as held:
            own = {entry.input_table for entry in flight.in_flight}
            others = [
                entry
                for entry in self.ctx.ledger.uncollected(flight.node.unique_id, flight.node.responses_table)
                if entry.input_table not in own and entry.job_name
            ]
            if others:
                names = ", ".join((e.job_name or "").rsplit("/", 1)[-1] for e in others)
                self.ctx.progress.say(
                    f"{flight.node.name}: another run has {len(others)} job(s) in flight for these requests ({names}): "
                    "attaching to them; what is left is planned again once they are merged"
                )
                flight.in_flight.extend(others)
                flight.plan = None
                flight.planned = False
                return
            if needs_plan:
                flight.planned = True
                flight.plan = submit_step.plan_chunks(self.ctx, flight.node, flight.settings, flight.outcome)
                # Vertex is listed for jobs the ledger does not know only when something is to be sent: an unchanged
                # run makes no Vertex call. (A job unknown to the ledger whose requests were all answered since by
                # another job is left to `clean`, which drops the tables no ledger row names.)
                adopted = (
                    submit_step.adopt_unknown_jobs(self.ctx, flight.node, flight.settings, held) if flight.plan else []
                )
                if adopted:
                    assert flight.plan is not None
                    self.ctx.bq.delete_table(flight.plan.pending_table, not_found_ok=True)
                    flight.in_flight.extend(adopted)
                    flight.plan = None
                    flight.planned = False
                    return  # planned again once they are merged: their requests are not sent twice
            while flight.plan and flight.plan.queued and self._room(flight):
                entry = submit_step.submit_chunk(
                    self.ctx, flight.node, flight.settings, flight.plan, flight.outcome, held
                )
                flight.in_flight.append(entry)

    # -- waiting -----------------------------------------------------------------------------------------------
    def poll_once(self, started: float) -> None:
        """Read every job in flight once; merge those that ended, then submit what their places allow."""
        for flight in self.models.values():
            for entry in list(flight.in_flight):
                job = get_job(self.ctx, flight.settings, entry)
                self._report(flight, entry, job, started)
                if job.state.name in TERMINAL_STATES:
                    flight.in_flight.remove(entry)
                    try:
                        collect_step.collect(self.ctx, flight.node, flight.settings, entry, job, flight.outcome)
                        flight.outcome.collected.append(entry.input_table)  # for the run summary (spend/report.py)
                    except lease.LeaseLost as exc:
                        self._lost(flight, exc)
                        break
                    except BatchError as exc:
                        flight.outcome.errors.append(str(exc))
        self.pump()
        done = []
        for flight in self.models.values():
            # every job of the model merged: max_error_ratio over what this run collected (spend/guards.py)
            if flight.planned and not flight.in_flight and not flight.queued and not flight.checked:
                flight.checked = True
                spend_guards.check_after_collection(flight.node, flight.settings, flight.outcome)
                done.append(flight)
        for flight in done:
            self._escalate(flight)

    def _escalate(self, flight: ModelFlight) -> None:
        """A cascade's following round (escalate.py): the first tier is all merged, so decide which of its rows the
        second model answers again and put that tier in flight with the others."""
        if not flight.settings.escalate_to or flight.outcome.errors or isinstance(flight.node, escalate.EscalationNode):
            return
        try:
            escalate.decide(self.ctx, flight.node, flight.settings)
        except BatchError as exc:
            flight.outcome.errors.append(str(exc))
            self.ctx.progress.say(f"ERROR {exc}")
            return
        tier, settings = escalate.second_tier(flight.node, flight.settings)
        self.add(tier, settings)

    def _report(
        self, flight: ModelFlight, entry: LedgerEntry, job: aiplatform_v1.BatchPredictionJob, started: float
    ) -> None:
        stats = job.completion_stats
        detail = f"{entry.request_count} requests"
        if stats and (stats.successful_count or stats.failed_count):
            detail += f", {stats.successful_count} ok / {stats.failed_count} failed"
        if flight.queued:
            detail += f"; {flight.queued} more job(s) queued"
        self.ctx.progress.job_state(flight.node.name, entry.job_name or "", job.state.name, started, detail)

    def busy(self) -> bool:
        return any(f.in_flight or (f.queued and not f.stopped) for f in self.models.values())

    def wait(self, cancel_on_interrupt: bool = False) -> None:
        """Poll with backoff until every job has ended and been merged and nothing is queued, or max_wait_hours.

        Ctrl-C stops the wait at once and leaves the jobs running (cancels them with cancel_on_interrupt), then
        raises Interrupted with what to do next.
        """
        if not self.models:
            return
        started = time.monotonic()
        hours = max(f.settings.max_wait_hours for f in self.models.values())
        deadline = started + hours * 3600
        delay = min(f.settings.poll_initial_seconds for f in self.models.values())
        ceiling = max(f.settings.poll_max_seconds for f in self.models.values())
        with self.ctx.progress.waiting():  # a live table of the jobs on a terminal (progress.py)
            try:
                while True:
                    self.poll_once(started)
                    if not self.busy():
                        return
                    if time.monotonic() > deadline:
                        self.leave_running(f"stopped waiting after {hours} h")
                        return
                    self.sleep(delay)
                    delay = min(delay * 1.5, ceiling)
            except KeyboardInterrupt:
                raise Interrupted(self.interrupted(cancel_on_interrupt)) from None

    def leave_running(self, why: str) -> None:
        """Record the jobs still in flight in the outcomes and say how to pick them up."""
        for flight in self.models.values():
            for entry in flight.in_flight:
                flight.outcome.still_running.append(entry.job_name or "")
            if flight.in_flight:
                self.ctx.progress.say(
                    f"{flight.node.name}: {why}; {len(flight.in_flight)} job(s) go on. Collect them later with "
                    f"`dbt-gemini-batch collect --select {flight.node.name}`"
                )

    def interrupted(self, cancel: bool) -> str:
        names = [f.node.name for f in self.models.values() if f.in_flight]
        if not names:
            return "interrupted; no job was in flight"
        select = " ".join(names)
        if not cancel:
            self.leave_running("interrupted")
            return (
                f"interrupted: the batch jobs of {select} keep running on Vertex AI. Merge their answers later with "
                f"`dbt-gemini-batch collect --select {select}` (add --wait to wait for them), or stop them with "
                f"`dbt-gemini-batch cancel --select {select}`"
            )
        cancelled = 0
        for flight in self.models.values():
            for entry in flight.in_flight:
                self.ctx.jobs(flight.settings).cancel_batch_prediction_job(name=entry.job_name, timeout=30)
                self.ctx.ledger.update(entry, state="JOB_STATE_CANCELLING")
                cancelled += 1
        return (
            f"interrupted: cancel requested for {cancelled} batch job(s) of {select}. What they answered before "
            f"stopping is merged by `dbt-gemini-batch collect --select {select}`; the rest stays pending"
        )
