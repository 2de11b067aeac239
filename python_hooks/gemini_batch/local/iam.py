"""Permissions on the local stack: every one is granted, except those the stack's IAM file denies.

Google answers `testIamPermissions` with the subset of the asked permissions the caller holds (Cloud Storage
buckets.testIamPermissions, BigQuery tables.testIamPermissions, Resource Manager projects.testIamPermissions). The
local services answer the same way, reading `<data dir>/iam.json` on every call so that a test can take a permission
away from a running stack:

    {"denied": ["storage.objects.delete", "bigquery.tables.updateData"]}

A permission may be denied everywhere ("storage.objects.delete") or on one resource only
("storage.objects.delete@my-bucket", "bigquery.tables.getData@project.dataset.table", "aiplatform.batchPredictionJobs
.create@projects/p"). The services only report: nothing else they do is refused for want of a permission.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

ENV_IAM_FILE = "GEMINI_BATCH_LOCAL_IAM_FILE"
IAM_FILE = "iam.json"


def iam_file() -> Path | None:
    value = os.environ.get(ENV_IAM_FILE)
    return Path(value) if value else None


def denied(path: Path | None = None) -> set[str]:
    path = path or iam_file()
    if path is None or not path.exists():
        return set()
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return set()
    return {str(p) for p in data.get("denied", [])}


def granted(permissions: Iterable[str], resource: str, path: Path | None = None) -> list[str]:
    """The asked permissions the caller holds on `resource`, in the order asked (as Google answers)."""
    refused = denied(path)
    return [p for p in permissions if p not in refused and f"{p}@{resource}" not in refused]


def write_denied(path: Path, permissions: Iterable[str]) -> None:
    """Replace the stack's denied permissions (tests; `[]` grants everything again)."""
    path.write_text(json.dumps({"denied": sorted(set(permissions))}, indent=2))
