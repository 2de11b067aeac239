"""A dataset made by SQL (`CREATE SCHEMA`, which dbt-bigquery runs) lands where BigQuery puts it: in the location of
the query job that made it (or its `OPTIONS(location=...)`), `US` staying `US` and `EU` staying `EU`.

BigQuery: "If you don't specify a location, the dataset is created in the location of the query" and the query runs
in the location the client sends with the job (jobs.insert `jobReference.location`, jobs.query `location`;
cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#create_schema_statement, "location").
bqemulator 1.4 ignores the job's location: `ddl_sync._ensure_dataset` registers such a dataset with DatasetMeta's
default, the hard-coded "US" that bigquery_server replaces by the stack's region. Either way a profile's multi-region
vanished, and a `location: US` profile ran batch jobs locally that Vertex refuses ("multi-region datasets are not
supported"). Here an ASGI wrapper reads the location of each jobs.insert / jobs.query request into a context variable,
and the dataset registration uses it; a job without a location keeps the stack's default.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
ASGIApp = Callable[[Scope, Receive, Callable[[Any], Awaitable[None]]], Awaitable[None]]

_JOB_LOCATION: contextvars.ContextVar[str | None] = contextvars.ContextVar("bqemu_job_location", default=None)
_JOB_PATH = re.compile(r"^(/bigquery/v2)?/projects/[^/]+/(jobs|queries)$")
# CREATE SCHEMA ... OPTIONS(location="EU"): the statement's own location wins over the job's
_OPTION_LOCATION = re.compile(r"""\blocation\s*=\s*(?:r?["']([^"']+)["'])""", re.IGNORECASE)


def job_location(body: bytes) -> str | None:
    """The location a jobs.insert or jobs.query request body names, if any."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    reference = data.get("jobReference")
    location = data.get("location") or (reference.get("location") if isinstance(reference, dict) else None)
    return location if isinstance(location, str) and location else None


def statement_location(sql: str) -> str | None:
    """The location in a `CREATE SCHEMA ... OPTIONS(location = '...')` statement, if any."""
    if not re.match(r"\s*create\s+(schema|dataset)\b", sql, re.IGNORECASE):
        return None
    found = _OPTION_LOCATION.search(sql)
    return found.group(1) if found else None


class JobLocationASGI:
    """Reads a job request's body (then replays it to the app) and holds its location while the app runs it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or not _JOB_PATH.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message.get("type") != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body"):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        token = _JOB_LOCATION.set(job_location(body))
        try:
            await self.app(scope, replay, send)
        finally:
            _JOB_LOCATION.reset(token)


def install() -> None:
    """Patch bqemulator before its server starts (idempotent)."""
    from bqemulator import server
    from bqemulator.catalog import ddl_sync
    from bqemulator.catalog.models import DatasetMeta

    if getattr(ddl_sync, "_gemini_batch_dataset_location", False):
        return
    ddl_sync._gemini_batch_dataset_location = True  # type: ignore[attr-defined]
    statement: contextvars.ContextVar[str | None] = contextvars.ContextVar("bqemu_ddl_location", default=None)

    def ensure_dataset(project_id: str, dataset_id: str, ctx: Any) -> None:
        # the original (bqemulator/catalog/ddl_sync.py), with the location of the statement or of its job
        if ctx.catalog.get_dataset(project_id, dataset_id) is not None:
            return
        now = ctx.clock.now()
        location = statement.get() or _JOB_LOCATION.get()
        meta = DatasetMeta(
            project_id=project_id,
            dataset_id=dataset_id,
            creation_time=now,
            last_modified_time=now,
            etag=ddl_sync.generate_etag(project_id, dataset_id, str(now)),
        )
        ctx.catalog.create_dataset(meta.model_copy(update={"location": location}) if location else meta)

    ddl_sync._ensure_dataset = ensure_dataset
    sync_created_schema = ddl_sync.sync_created_schema

    def sync_created_schema_with_location(bq_sql: str, project_id: str, ctx: Any) -> None:
        token = statement.set(statement_location(bq_sql))
        try:
            sync_created_schema(bq_sql, project_id, ctx)
        finally:
            statement.reset(token)

    # executor and the script interpreter import it by name (bqemulator/jobs/executor.py, scripting/interpreter.py)
    from bqemulator.jobs import executor
    from bqemulator.scripting import interpreter

    for module in (ddl_sync, executor, interpreter):
        module.sync_created_schema = sync_created_schema_with_location  # type: ignore[attr-defined]
    create_app = server.create_app
    server.create_app = lambda context: JobLocationASGI(create_app(context))  # type: ignore[assignment,return-value]
