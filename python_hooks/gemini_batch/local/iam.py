"""Permissions on the local stack: every one is granted, except those the stack's IAM file denies.

Google answers `testIamPermissions` with the subset of the asked permissions the caller holds (Cloud Storage
buckets.testIamPermissions, BigQuery tables.testIamPermissions, Resource Manager projects.testIamPermissions). The
local services answer the same way, reading `<data dir>/iam.json` on every call so that a test can take a permission
away from a running stack:

    {"denied": ["storage.objects.delete", "bigquery.tables.updateData"]}

It may also name the project number and the project's IAM bindings (Resource Manager projects.get / getIamPolicy);
by default the project number is the Vertex emulator's (123456789012) and the Vertex AI service agent of that number
holds roles/aiplatform.serviceAgent, as Google grants it when the Vertex AI API is enabled:

    {"bindings": [{"role": "roles/viewer", "members": ["user:someone@example.com"]}]}

A permission may be denied everywhere ("storage.objects.delete") or on one resource only
("storage.objects.delete@my-bucket", "bigquery.tables.getData@project.dataset.table", "aiplatform.batchPredictionJobs
.create@projects/p"). The services only report: nothing else they do is refused for want of a permission.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ENV_IAM_FILE = "GEMINI_BATCH_LOCAL_IAM_FILE"
IAM_FILE = "iam.json"


def iam_file() -> Path | None:
    value = os.environ.get(ENV_IAM_FILE)
    return Path(value) if value else None


DEFAULT_PROJECT_NUMBER = "123456789012"  # the Vertex emulator's default project_number (emulator/config.py)


def _read(path: Path | None = None) -> dict[str, Any]:
    path = path or iam_file()
    if path is None or not path.exists():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def denied(path: Path | None = None) -> set[str]:
    return {str(p) for p in _read(path).get("denied", [])}


def project_number(path: Path | None = None) -> str:
    return str(_read(path).get("project_number") or DEFAULT_PROJECT_NUMBER)


def service_agent(number: str) -> str:
    """The Vertex AI service agent of a project number (cloud.google.com/vertex-ai/docs/general/access-control)."""
    return f"service-{number}@gcp-sa-aiplatform.iam.gserviceaccount.com"


def bindings(path: Path | None = None) -> list[dict[str, Any]]:
    data = _read(path)
    if "bindings" in data:
        return list(data["bindings"])
    agent = service_agent(project_number(path))
    return [{"role": "roles/aiplatform.serviceAgent", "members": [f"serviceAccount:{agent}"]}]


def granted(permissions: Iterable[str], resource: str, path: Path | None = None) -> list[str]:
    """The asked permissions the caller holds on `resource`, in the order asked (as Google answers)."""
    refused = denied(path)
    return [p for p in permissions if p not in refused and f"{p}@{resource}" not in refused]


def write(path: Path, denied: Iterable[str] = (), bindings: list[dict[str, Any]] | None = None) -> None:
    """Replace the stack's IAM file (tests): these permissions denied, these project bindings (None: the default)."""
    data: dict[str, Any] = {"denied": sorted(set(denied))}
    if bindings is not None:
        data["bindings"] = bindings
    path.write_text(json.dumps(data, indent=2))
