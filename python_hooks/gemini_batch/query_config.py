"""The one place that builds the QueryJobConfig of every BigQuery job the hook runs (its own queries and the ledger's).

dbt applies the profile's cost guards and labels to its own jobs; the hook's jobs carry the same ones, so
`maximum_bytes_billed`, `priority` and `job_execution_timeout_seconds` cover them too and billing exports can tell which
dbt invocation and model ran them.

The hook's statements bill the hash and status columns of the cache and the rows of the job at hand, never the whole
cache (batch/collect.py write_to_cache, batch/submit.py write_pending), so a `maximum_bytes_billed` that fits the
model's own SQL (which reads every row's request) fits them too. A team that wants a different cap for the hook (a
cap sized for small models, a job of many large answers) sets GEMINI_BATCH_MAXIMUM_BYTES_BILLED: a number of bytes,
or `none` for no cap on the hook's jobs; dbt's own jobs keep the profile's. A cap is never allowed to stall
collection silently: a job refused for it fails the command naming the cap and this variable (friendly_errors).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.cloud import bigquery

from gemini_batch.labels import label_value

MAXIMUM_BYTES_BILLED_ENV = "GEMINI_BATCH_MAXIMUM_BYTES_BILLED"
NO_CAP = {"none", "off", "0"}


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
            maximum_bytes_billed=hook_bytes_cap(getattr(credentials, "maximum_bytes_billed", None) or None),
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


def hook_bytes_cap(profile_cap: int | None, environ: dict[str, str] | None = None) -> int | None:
    """The maximum_bytes_billed of the hook's jobs: GEMINI_BATCH_MAXIMUM_BYTES_BILLED when set (`none` for no cap),
    else the profile's."""
    raw = (os.environ if environ is None else environ).get(MAXIMUM_BYTES_BILLED_ENV, "").strip()
    if not raw:
        return profile_cap
    if raw.lower() in NO_CAP:
        return None
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(
            f"{MAXIMUM_BYTES_BILLED_ENV}={raw!r} is not a number of bytes: set a whole number (e.g. 20000000000 for "
            "20 GB) or `none` for no cap on the hook's BigQuery jobs"
        )
    return value
