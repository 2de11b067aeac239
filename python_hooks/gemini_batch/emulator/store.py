"""The emulator's jobs: an in-memory map of BatchPredictionJob resources, mirrored to one JSON file per job.

The resource is kept exactly as the REST API returns it (camelCase, enum names, int64 as strings), so `get` is
a copy and nothing is converted twice. With a state directory, every change is written atomically (temp file +
rename), so a restarted emulator still answers get/list for jobs it ran before.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gemini_batch.emulator.clock import now_rfc3339
from gemini_batch.emulator.errors import not_found

log = logging.getLogger(__name__)

TERMINAL_STATES = frozenset(
    {
        "JOB_STATE_SUCCEEDED",
        "JOB_STATE_FAILED",
        "JOB_STATE_CANCELLED",
        "JOB_STATE_EXPIRED",
        "JOB_STATE_PARTIALLY_SUCCEEDED",
    }
)


@dataclass
class StoredJob:
    job_id: str
    location: str
    resource: dict[str, Any]

    @property
    def state(self) -> str:
        return str(self.resource.get("state", "JOB_STATE_UNSPECIFIED"))

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES


class JobStore:
    """Thread-safe job map. Callers get deep copies; changes go through `update` so they are persisted."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._jobs: dict[str, StoredJob] = {}
        self._dir = Path(state_dir) / "jobs" if state_dir else None
        self._random = random.SystemRandom()
        if self._dir:
            self._dir.mkdir(parents=True, exist_ok=True)

    # -- persistence -----------------------------------------------------------------------------------------
    def load(self) -> list[StoredJob]:
        """Read the jobs a previous emulator left in the state directory; returns them (copies)."""
        if not self._dir:
            return []
        loaded = []
        for path in sorted(self._dir.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                job = StoredJob(str(data["job_id"]), str(data["location"]), dict(data["resource"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("skipping unreadable job file %s: %s", path.name, exc)
                continue
            with self._lock:
                self._jobs[job.job_id] = job
            loaded.append(copy.deepcopy(job))
        return loaded

    def _persist(self, job: StoredJob) -> None:
        if not self._dir:
            return
        path = self._dir / f"{job.job_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"job_id": job.job_id, "location": job.location, "resource": job.resource}, indent=1))
        os.replace(tmp, path)

    # -- operations ------------------------------------------------------------------------------------------
    def new_id(self) -> str:
        """A 19-digit numeric id, like Vertex's (a positive int64)."""
        with self._lock:
            while True:
                candidate = str(self._random.randint(10**18, 2**63 - 1))
                if candidate not in self._jobs:
                    return candidate

    def add(self, job: StoredJob) -> StoredJob:
        with self._lock:
            self._jobs[job.job_id] = copy.deepcopy(job)
            self._persist(job)
            return copy.deepcopy(job)

    def get(self, job_id: str, location: str | None = None) -> StoredJob:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or (location is not None and job.location != location):
                raise not_found(f"The BatchPredictionJob does not exist: {job_id}")
            return copy.deepcopy(job)

    def all(self, location: str | None = None) -> list[StoredJob]:
        with self._lock:
            return [copy.deepcopy(j) for j in self._jobs.values() if location is None or j.location == location]

    def update(
        self,
        job_id: str,
        changes: dict[str, Any] | None = None,
        when: Callable[[StoredJob], bool] | None = None,
    ) -> StoredJob | None:
        """Apply `changes` (None removes a field), bump updateTime; skip (return None) when `when` says no."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if when is not None and not when(job):
                return None
            for key, value in (changes or {}).items():
                if value is None:
                    job.resource.pop(key, None)
                else:
                    job.resource[key] = value
            job.resource["updateTime"] = now_rfc3339()
            self._persist(job)
            return copy.deepcopy(job)

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
            if self._dir:
                (self._dir / f"{job_id}.json").unlink(missing_ok=True)

    def clear(self) -> None:
        with self._lock:
            for job_id in list(self._jobs):
                self.delete(job_id)
