"""What the steps share for one invocation: the BigQuery client, the ledger, Vertex clients per location, progress."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import aiplatform_v1, bigquery, storage

from gemini_batch.ledger import Ledger
from gemini_batch.progress import Progress
from gemini_batch.query_config import QueryDefaults
from gemini_batch.settings import BatchSettings

JobClientFactory = Callable[[BatchSettings, str], aiplatform_v1.JobServiceClient]
# Every BigQuery API call is bounded: each HTTP request times out, and google-cloud-bigquery's own retry (transient
# errors and dropped connections) stops after BQ_RETRY_SECONDS instead of its default 600 s, so an unreachable service
# ends a command within a minute. Query jobs themselves may run long: result() waits up to QUERY_SECONDS.
BQ_REQUEST_SECONDS = 30.0
BQ_RETRY_SECONDS = 45.0
QUERY_SECONDS = 3600.0
BQ_RETRY = bigquery.DEFAULT_RETRY.with_timeout(BQ_RETRY_SECONDS)
CONFLICT_RETRY_SECONDS = 600.0


def concurrent_update(exc: Exception) -> bool:
    """BigQuery's failure of a mutating DML statement (MERGE, UPDATE, DELETE) that conflicted with another on the same
    table and lost after BigQuery's own three retries: "Could not serialize access to table ... due to concurrent
    update" (cloud.google.com/bigquery/docs/data-manipulation-language, "DML statement conflicts"). The statement
    changed nothing, so running it again is safe; the hook's merges are exactly-once per job anyway."""
    cause = exc.cause if isinstance(exc, gexc.RetryError) and isinstance(exc.cause, Exception) else exc
    text = str(cause).lower()
    return "could not serialize access" in text and "concurrent update" in text


# A statement that lost a concurrent-update conflict is run again with backoff (1 s doubling to 30 s, jittered) for up
# to CONFLICT_RETRY_SECONDS, whether BigQuery refuses the job at insert or fails it when done: a `dbt build` of the
# model (its MERGE and ALTER on m__responses) and the hook's merges never make each other fail.
CONFLICT_RETRY = gretry.Retry(
    predicate=concurrent_update, initial=1.0, maximum=30.0, multiplier=2.0, timeout=CONFLICT_RETRY_SECONDS
)


class BatchContext:
    def __init__(
        self,
        bq: bigquery.Client,
        ledger: Ledger,
        job_client_factory: JobClientFactory,
        default_location: str,
        invocation_id: str | None = None,
        progress: Progress | None = None,
        query_defaults: QueryDefaults | None = None,
    ) -> None:
        self.bq = bq
        self.ledger = ledger
        self._job_client_factory = job_client_factory
        self._job_clients: dict[tuple[str | None, str], aiplatform_v1.JobServiceClient] = {}
        self.default_location = default_location
        self.invocation_id = invocation_id or uuid.uuid4().hex
        self.progress = progress or Progress()
        self.query_defaults = query_defaults or QueryDefaults()
        self._storage: storage.Client | None = None

    def location(self, settings: BatchSettings) -> str:
        """The jobs' Vertex location, lower case as Vertex spells them (a profile may say `US-Central1`)."""
        return (settings.vertex_location or self.default_location).lower()

    def jobs(self, settings: BatchSettings) -> aiplatform_v1.JobServiceClient:
        """One JobServiceClient per (endpoint override, location), made on first use."""
        location = self.location(settings)
        key = (settings.vertex_endpoint, location)
        if key not in self._job_clients:
            self._job_clients[key] = self._job_client_factory(settings, location)
        return self._job_clients[key]

    def storage(self) -> storage.Client:
        """Cloud Storage (transport: gcs), made on first use with BigQuery's project and credentials;
        google-cloud-storage itself honours STORAGE_EMULATOR_HOST, which the local stack sets."""
        if self._storage is None:
            self._storage = storage.Client(project=self.bq.project, credentials=self.bq._credentials)
        return self._storage

    def table_exists(self, table: str) -> bool:
        """Whether `table` (project.dataset.table) exists; a bounded metadata read, no query."""
        try:
            self.bq.get_table(table, retry=BQ_RETRY, timeout=BQ_REQUEST_SECONDS)
        except gexc.NotFound:
            return False
        return True

    def sql(self, sql: str, node: str | None = None, **params: Any) -> list[bigquery.Row]:
        """Run one query with the profile's cost guards and labels (`node`: the dbt node it works for)."""
        qparams = [
            bigquery.ScalarQueryParameter(name, "INT64" if isinstance(v, int) else "STRING", v)
            for name, v in params.items()
        ]

        def run() -> list[bigquery.Row]:
            job = self.bq.query(
                sql,
                job_config=self.query_defaults.config(qparams, node=node),
                retry=BQ_RETRY,
                timeout=BQ_REQUEST_SECONDS,
            )
            return list(job.result(timeout=QUERY_SECONDS, retry=BQ_RETRY))

        return CONFLICT_RETRY(run)()

    def dml(self, sql: str, node: str | None = None, **params: Any) -> int | None:
        """Run one DML statement as `sql` does (retried the same way); the rows it changed (None when the service
        does not say)."""
        qparams = [
            bigquery.ScalarQueryParameter(name, "INT64" if isinstance(v, int) else "STRING", v)
            for name, v in params.items()
        ]

        def run() -> int | None:
            job = self.bq.query(
                sql,
                job_config=self.query_defaults.config(qparams, node=node),
                retry=BQ_RETRY,
                timeout=BQ_REQUEST_SECONDS,
            )
            job.result(timeout=QUERY_SECONDS, retry=BQ_RETRY)
            affected = job.num_dml_affected_rows
            return None if affected is None else int(affected)

        return CONFLICT_RETRY(run)()
