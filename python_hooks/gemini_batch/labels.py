"""Label values for Google resources (BigQuery jobs, Vertex batch jobs): one rule, used for both."""

from __future__ import annotations

import re


def label_value(text: str) -> str:
    """A label value: lower case letters, digits, `_` and `-`, at most 63 characters (BigQuery's and Vertex's rule)."""
    return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]
