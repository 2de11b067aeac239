"""Label values for Google resources (BigQuery jobs, Vertex batch jobs): one rule, used for both."""

from __future__ import annotations

import hashlib
import re

MAX_LABEL = 63  # BigQuery's and Vertex's limit on a label value
HASH_DIGITS = 8


def label_value(text: str) -> str:
    """A label value: lower case letters, digits, `_` and `-`, at most 63 characters (BigQuery's and Vertex's rule).

    A longer value keeps its first 54 characters and ends in `-` and 8 hex digits of the SHA-256 of the whole value,
    so two dbt models whose names share their first 63 characters keep distinct labels (the billing export is grouped
    by them). gemini_batch_job_history computes the same value in SQL (its `node_label` column)."""
    value = re.sub(r"[^a-z0-9_-]", "_", text.lower())
    if len(value) <= MAX_LABEL:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:HASH_DIGITS]
    return f"{value[: MAX_LABEL - HASH_DIGITS - 1]}-{digest}"
