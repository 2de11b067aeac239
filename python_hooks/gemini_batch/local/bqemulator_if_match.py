"""Let bqemulator honour `If-Match` on tables.patch / tables.update, as BigQuery does for its clients.

google-cloud-bigquery's `Client.update_table` sends `If-Match: <etag>` when the Table it is given carries an etag (the
one `get_table` returned), and BigQuery refuses the write with 412 Precondition Failed when the table changed since
(googleapis/python-bigquery client.py `update_table`: "If table.etag is not None, the update will only succeed if
the table on the server has the same ETag"). bqemulator ignores the header and applies every patch, so a guard built
on it (the hook's lease takeover and renewal, batch/lease.py) could never fail locally. This wrapper compares the
header with the catalog's etag before bqemulator's handler runs, under the server's request gate (bigquery_gate), so
the check and the write are one step for every other client. bqemulator's etag hashes the time of the write
(microseconds), so every write under the gate gets a new one.
"""

from __future__ import annotations

import re
from typing import Any

from gemini_batch.local.bigquery_faults import error_body, respond

# /bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}
TABLE_PATH = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)$")
GUARDED_METHODS = frozenset({"PATCH", "PUT"})


def precondition_failed() -> bytes:
    # BigQuery's error body for a stale If-Match (reason conditionNotMet, HTTP 412)
    return error_body(412, "conditionNotMet", "Precondition check failed.")


class IfMatchASGI:
    def __init__(self, app: Any, context: Any) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = TABLE_PATH.match(scope.get("path", "")) if scope.get("type") == "http" else None
        if match is None or scope.get("method") not in GUARDED_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        wanted = headers.get("if-match")
        table = self.context.catalog.get_table(*match.groups())
        if wanted and wanted != "*" and table is not None and wanted.strip() != table.etag:
            await respond(send, 412, precondition_failed())
            return
        await self.app(scope, receive, send)


def install() -> None:
    """Wrap bqemulator's REST app (before its server starts; bigquery_gate wraps it again, outermost)."""
    from bqemulator import server

    create_app = server.create_app
    server.create_app = lambda context: IfMatchASGI(create_app(context), context)  # type: ignore[assignment,return-value]
