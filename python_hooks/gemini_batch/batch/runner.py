"""The orchestrator: the whole cycle for one model, one step module per stage (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable

from google.cloud import aiplatform_v1, bigquery

from gemini_batch.batch import cancel as cancel_step
from gemini_batch.batch import collect as collect_step
from gemini_batch.batch import plan
from gemini_batch.batch import wait as wait_step
from gemini_batch.batch.common import NodeOutcome
from gemini_batch.batch.context import BatchContext, JobClientFactory
from gemini_batch.batch.flight import Flights
from gemini_batch.dbt_project import BatchNode
from gemini_batch.ledger import Ledger, LedgerEntry
from gemini_batch.progress import Progress
from gemini_batch.query_config import QueryDefaults
from gemini_batch.settings import BatchSettings


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

    def flights(self, project_cap: int | None = None) -> Flights:
        """A new set of jobs in flight for this invocation (see flight.py): add models, then wait once for all."""
        return Flights(self.ctx, project_cap=project_cap, sleep=self.sleep)

    def process(
        self, node: BatchNode, settings: BatchSettings, wait: bool = True, cancel_on_interrupt: bool = False
    ) -> NodeOutcome:
        """Resume, submit, and (when wait) poll and collect every job of one model, each merged as soon as it ends."""
        flights = self.flights()
        flight = flights.add(node, settings)
        if wait:
            flights.wait(cancel_on_interrupt=cancel_on_interrupt)
        else:
            self.leave(flights)
        return flight.outcome

    def leave(self, flights: Flights, why: str = "--no-wait") -> None:
        """--no-wait (or `submit` without --wait, said as `why`): the jobs go on; buckets not submitted yet (over the
        caps) go out with a later run."""
        flights.leave_running(why)
        for flight in flights.models.values():
            if flight.queued:
                self.progress.say(
                    f"{flight.node.name}: {flight.queued} more chunk(s) wait for a place under "
                    "max_jobs_in_flight_per_model; a later run submits them once these jobs are collected"
                )

    def collect_open(
        self,
        node: BatchNode,
        settings: BatchSettings,
        outcome: NodeOutcome,
        wait: bool,
        cancel_on_interrupt: bool = False,
    ) -> int:
        """Finish what earlier runs left: jobs in the ledger not yet collected. Returns how many there were."""
        flights = self.flights()
        flight = flights.add(node, settings, outcome, submit_new=False)
        found = len(flight.in_flight)
        if wait:
            flights.wait(cancel_on_interrupt=cancel_on_interrupt)
        else:
            flights.poll_once(time.monotonic())
            flights.leave_running("still running")
        return found

    def pending_counts(self, node: BatchNode, settings: BatchSettings) -> tuple[int, int]:
        return plan.pending_counts(self.ctx, node, settings)

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
