"""The five batchPredictionJobs methods (create, get, list, cancel, delete) over the job store, free of HTTP.

Resource names carry the project in the form `resource_name_project` picks: "number" (default, like Vertex,
which answers with the project number whatever the caller used) or "id". Paths accept either form.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import random
import re
import threading
from collections.abc import Callable
from typing import Any

from gemini_batch.emulator.clock import now_rfc3339, parse_rfc3339, utcnow
from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.errors import ApiError, failed_precondition, invalid_argument
from gemini_batch.emulator.filters import FilterError, compile_filter
from gemini_batch.emulator.jobs import CANCELLING, PENDING, QUEUED, RUNNING, JobRunner
from gemini_batch.emulator.store import JobStore, StoredJob
from gemini_batch.emulator.validation import validate_create

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# A region like us-central1, or `global`: Gemini batch accepts jobs in the global location too (Google's batch notebook
# GoogleCloudPlatform/generative-ai gemini/batch-prediction/intro_batch_prediction.ipynb defaults to LOCATION="global";
# its API host is aiplatform.googleapis.com, without a region prefix, which only matters to clients, not paths).
_LOCATION = re.compile(r"^(?:[a-z]+-[a-z]+\d+|global)$")


class JobService:
    def __init__(self, store: JobStore, runner: JobRunner, config: Callable[[], EmulatorConfig], project: str) -> None:
        self.store = store
        self.runner = runner
        self.config = config
        self.project = project
        self._operations: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- paths -----------------------------------------------------------------------------------------------
    def check_parent(self, project: str, location: str) -> None:
        if project not in (self.project, self.config().project_number):
            raise ApiError(
                "PERMISSION_DENIED",
                f"Permission 'aiplatform.batchPredictionJobs.list' denied on resource "
                f"'//aiplatform.googleapis.com/projects/{project}/locations/{location}' (or it may not "
                "exist).",
            )
        if not _LOCATION.match(location):
            raise invalid_argument(
                f"Location {location!r} is not a region; Gemini batch jobs run in a region like us-central1 "
                "(or in global)."
            )

    def _name_project(self) -> str:
        config = self.config()
        return config.project_number if config.resource_name_project == "number" else self.project

    @staticmethod
    def _check_id(job_id: str) -> None:
        if not job_id.isdigit():
            raise invalid_argument(f"Invalid BatchPredictionJob id {job_id!r}: ids are numeric.")

    # -- methods ---------------------------------------------------------------------------------------------
    def create(self, project: str, location: str, body: Any) -> dict[str, Any]:
        self.check_parent(project, location)
        config = self.config()
        spec = validate_create(
            body,
            {self.project, config.project_number},
            location,
            config.extra_publisher_models,
            config.tuned_models,
        )
        job_id = self.store.new_id()
        now = now_rfc3339()
        resource: dict[str, Any] = {
            "name": f"projects/{self._name_project()}/locations/{location}/batchPredictionJobs/{job_id}",
            "displayName": spec.display_name,
            "model": spec.model,
            "inputConfig": spec.input_config,
            "outputConfig": spec.output_config,
            "state": PENDING,
            "createTime": now,
            "updateTime": now,
        }
        if spec.model_parameters is not None:
            resource["modelParameters"] = spec.model_parameters
        if spec.labels:
            resource["labels"] = spec.labels
        stored = self.store.add(StoredJob(job_id, location, resource))
        self.runner.start(job_id)
        return stored.resource

    def get(self, project: str, location: str, job_id: str) -> dict[str, Any]:
        self.check_parent(project, location)
        self._check_id(job_id)
        return self.store.get(job_id, location).resource

    def list(self, project: str, location: str, query: dict[str, str]) -> dict[str, Any]:
        self.check_parent(project, location)
        text = query.get("filter", "")
        try:
            predicate = compile_filter(text)
        except FilterError as exc:
            raise invalid_argument(f"Invalid filter {text!r}: {exc}") from exc
        try:
            size = int(query.get("pageSize") or query.get("page_size") or DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise invalid_argument("pageSize must be an integer.") from exc
        if size < 0:
            raise invalid_argument("pageSize must not be negative.")
        size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        fingerprint = hashlib.sha256(f"{location}|{text}".encode()).hexdigest()[:16]
        offset = self._read_token(query.get("pageToken") or query.get("page_token") or "", fingerprint)
        listed_before = utcnow() - dt.timedelta(seconds=self.config().list_lag_seconds)
        jobs = sorted(
            (j.resource for j in self.store.all(location) if parse_rfc3339(j.resource["createTime"]) <= listed_before),
            key=lambda r: (r["createTime"], r["name"]),
            reverse=True,  # newest first, as Vertex lists
        )
        matching = [r for r in jobs if predicate(r)]
        page = matching[offset : offset + size]
        answer: dict[str, Any] = {}
        if page:
            answer["batchPredictionJobs"] = page
        if offset + size < len(matching):
            token = json.dumps({"o": offset + size, "f": fingerprint}).encode()
            answer["nextPageToken"] = base64.urlsafe_b64encode(token).decode()
        return answer

    @staticmethod
    def _read_token(token: str, fingerprint: str) -> int:
        if not token:
            return 0
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            if data["f"] != fingerprint:
                raise ValueError("filter changed")
            return int(data["o"])
        except (ValueError, KeyError, TypeError) as exc:
            raise invalid_argument("Invalid page token: it does not belong to this list request.") from exc

    def cancel(self, project: str, location: str, job_id: str) -> dict[str, Any]:
        self.check_parent(project, location)
        self._check_id(job_id)
        job = self.store.get(job_id, location)
        if job.state == CANCELLING:
            return {}
        updated = self.store.update(job_id, {"state": CANCELLING}, when=lambda j: j.state in (PENDING, QUEUED, RUNNING))
        if updated is None:
            job = self.store.get(job_id, location)
            raise failed_precondition(
                f"BatchPredictionJob {job.resource['name']} is in state {job.state} and cannot be cancelled."
            )
        self.runner.cancel(job_id)
        return {}

    def delete(self, project: str, location: str, job_id: str) -> dict[str, Any]:
        self.check_parent(project, location)
        self._check_id(job_id)
        job = self.store.get(job_id, location)
        if not job.finished:
            raise failed_precondition(
                f"BatchPredictionJob {job.resource['name']} is in state {job.state}; only a finished job "
                "can be "
                "deleted. Cancel it first."
            )
        self.store.delete(job_id)
        now = now_rfc3339()
        operation_id = random.getrandbits(62)
        operation = {
            "name": f"projects/{self._name_project()}/locations/{location}/operations/{operation_id}",
            "metadata": {
                "@type": "type.googleapis.com/google.cloud.aiplatform.v1.DeleteOperationMetadata",
                "genericMetadata": {"createTime": now, "updateTime": now},
            },
            "done": True,
            "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
        }
        with self._lock:
            self._operations[str(operation_id)] = operation
        return operation

    def get_operation(self, project: str, location: str, operation_id: str) -> dict[str, Any]:
        self.check_parent(project, location)
        with self._lock:
            operation = self._operations.get(operation_id)
        if operation is None:
            raise ApiError("NOT_FOUND", f"Operation {operation_id} not found.")
        return operation
