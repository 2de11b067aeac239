"""The one place that builds the QueryJobConfig of every BigQuery job the hook runs (its own queries and the ledger's).

dbt applies the profile's cost guards and labels to its own jobs; the hook's jobs carry the same ones, so
`maximum_bytes_billed`, `priority` and `job_execution_timeout_seconds` cover them too and billing exports can tell which
dbt invocation and model ran them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.cloud import bigquery

from gemini_batch.labels import label_value


@dataclass(frozen=True)
class QueryDefaults:
    maximum_bytes_billed: int | None = None
    priority: str | None = None  # INTERACTIVE or BATCH
    job_timeout_ms: int | None = None
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_credentials(cls, credentials: Any, invocation_id: str) -> QueryDefaults:
        """From dbt-bigquery's BigQueryCredentials (the profile's target)."""
        priority = getattr(credentials, "priority", None)
        timeout = getattr(credentials, "job_execution_timeout_seconds", None)
        return cls(
            maximum_bytes_billed=getattr(credentials, "maximum_bytes_billed", None) or None,
            priority=str(getattr(priority, "value", priority)).upper() if priority else None,
            job_timeout_ms=int(timeout * 1000) if timeout else None,
            labels={"dbt_invocation_id": label_value(invocation_id)},
        )

    def config(
        self,
        params: Sequence[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = (),
        node: str | None = None,
    ) -> bigquery.QueryJobConfig:
        labels = dict(self.labels)
        if node:
            labels["dbt_node"] = label_value(node)
        job_config = bigquery.QueryJobConfig(query_parameters=list(params), labels=labels)
        if self.maximum_bytes_billed:
            job_config.maximum_bytes_billed = self.maximum_bytes_billed
        if self.priority:
            job_config.priority = self.priority
        if self.job_timeout_ms:
            job_config.job_timeout_ms = self.job_timeout_ms
        return job_config
