"""The orchestrator: the whole cycle for one model, one step module per stage (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable

from google.cloud import aiplatform_v1, bigquery

from gemini_batch.batch import cancel as cancel_step
from gemini_batch.batch import collect as collect_step
from gemini_batch.batch import plan
from gemini_batch.batch import submit as submit_step
from gemini_batch.batch import wait as wait_step
from gemini_batch.batch.common import TERMINAL_STATES, NodeOutcome
from gemini_batch.batch.context import BatchContext, JobClientFactory
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import SUBMITTING, Ledger, LedgerEntry
from gemini_batch.progress import Progress
from gemini_batch.query_config import QueryDefaults
from gemini_batch.settings import BatchSettings
from gemini_batch.spend.guards import check_after_collection


class BatchRunner:
    """Runs the batch steps for gemini_batch models with one BigQuery client, one ledger and one progress reporter."""

    def __init__(
        self,
        bq: bigquery.Client,
        ledger: Ledger,
        job_client_factory: JobClientFactory,
        default_location: str,
        invocation_id: str | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        query_defaults: QueryDefaults | None = None,
    ) -> None:
        self.ctx = BatchContext(
            bq, ledger, job_client_factory, default_location, invocation_id, progress, query_defaults
        )
        self.sleep = sleep

    @property
    def bq(self) -> bigquery.Client:
        return self.ctx.bq

    @property
    def ledger(self) -> Ledger:
        return self.ctx.ledger

    @property
    def progress(self) -> Progress:
        return self.ctx.progress

    @property
    def invocation_id(self) -> str:
        return self.ctx.invocation_id

    def process(self, node: BatchNode, settings: BatchSettings, wait: bool = True) -> NodeOutcome:
        """Resume, submit, and (when wait) poll and collect every job of one model."""
        outcome = NodeOutcome(node=node.name)
        if self.collect_open(node, settings, outcome, wait) and outcome.still_running:
            return outcome  # --no-wait with jobs still in flight: never submit the same rows again
        entries = self.submit(node, settings, outcome)
        if entries:
            self.finish_jobs(node, settings, entries, outcome, wait)
        check_after_collection(node, settings, outcome)  # max_error_ratio (spend/guards.py)
        return outcome

    def collect_open(self, node: BatchNode, settings: BatchSettings, outcome: NodeOutcome, wait: bool) -> int:
        """Finish what earlier runs left: jobs in the ledger not yet collected. Returns how many there were."""
        open_jobs = self.ledger.uncollected(node.unique_id)
        if open_jobs:
            self.progress.say(f"{node.name}: {len(open_jobs)} job(s) from an earlier run not collected yet, resuming")
            self.finish_jobs(node, settings, open_jobs, outcome, wait)
        return len(open_jobs)

    def finish_jobs(
        self,
        node: BatchNode,
        settings: BatchSettings,
        entries: list[LedgerEntry],
        outcome: NodeOutcome,
        wait: bool,
    ) -> None:
        for entry in entries:
            if entry.state == SUBMITTING:
                submit_step.recover_submitting(self.ctx, settings, entry)
        jobs = [e for e in entries if e.job_name]
        states = self.wait(node, settings, jobs) if wait else {e.job_name: self.get_job(settings, e) for e in jobs}
        for entry in jobs:
            job = states[entry.job_name]
            state = job.state.name
            if state not in TERMINAL_STATES:
                outcome.still_running.append(entry.job_name or "")
                self.ledger.update(entry, state=state)
                continue
            self.collect(node, settings, entry, job, outcome)

    def pending_counts(self, node: BatchNode, settings: BatchSettings) -> tuple[int, int]:
        return plan.pending_counts(self.ctx, node, settings)

    def submit(self, node: BatchNode, settings: BatchSettings, outcome: NodeOutcome) -> list[LedgerEntry]:
        return submit_step.submit(self.ctx, node, settings, outcome)

    def get_job(self, settings: BatchSettings, entry: LedgerEntry) -> aiplatform_v1.BatchPredictionJob:
        return wait_step.get_job(self.ctx, settings, entry)

    def wait(
        self, node: BatchNode, settings: BatchSettings, entries: list[LedgerEntry]
    ) -> dict[str | None, aiplatform_v1.BatchPredictionJob]:
        return wait_step.wait(self.ctx, node, settings, entries, sleep=self.sleep)

    def collect(
        self,
        node: BatchNode,
        settings: BatchSettings,
        entry: LedgerEntry,
        job: aiplatform_v1.BatchPredictionJob,
        outcome: NodeOutcome,
    ) -> None:
        collect_step.collect(self.ctx, node, settings, entry, job, outcome)

    def cancel(self, node: BatchNode, settings: BatchSettings) -> list[str]:
        return cancel_step.cancel(self.ctx, node, settings)
