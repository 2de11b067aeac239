"""IAM answers BigQuery and Resource Manager give and bqemulator does not, from the stack's IAM file (local/iam.py).

- BigQuery tables.testIamPermissions: POST /bigquery/v2/projects/P/datasets/D/tables/T:testIamPermissions with
  {"permissions": [...]} answers the subset held (cloud.google.com/bigquery/docs/reference/rest/v2/tables/
  testIamPermissions); 404 for a table that does not exist.
- Cloud Resource Manager v3 at the same endpoint (the local stack has no host of its own for it): projects.get
  (GET /v3/projects/P: the project number, which names the Vertex AI service agent), projects.testIamPermissions
  (POST /v3/projects/P:testIamPermissions) and projects.getIamPolicy (POST /v3/projects/P:getIamPolicy)
  (cloud.google.com/resource-manager/reference/rest/v3/projects).
`dbt-gemini-batch doctor` asks these; nothing the local BigQuery does is refused for want of a permission.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gemini_batch.local import iam

TABLE_PERMISSIONS = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/:]+):testIamPermissions$")
PROJECT = re.compile(r"^/v3/projects/([^/:]+)(?::(testIamPermissions|getIamPolicy))?$")


async def _body(receive: Any) -> dict[str, Any]:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    try:
        data = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def _answer(send: Any, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json; charset=UTF-8"),
                        (b"content-length", str(len(body)).encode())],
        }
    )  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def _not_found(what: str) -> dict[str, Any]:
    return {"error": {"code": 404, "message": f"Not found: {what}", "status": "NOT_FOUND"}}


class IamASGI:
    def __init__(self, app: Any, context: Any) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path, method = scope.get("path", ""), scope.get("method")
        if scope.get("type") == "http" and method == "POST" and (table := TABLE_PERMISSIONS.match(path)):
            body = await _body(receive)
            if self.context.catalog.get_table(*table.groups()) is None:
                await _answer(send, 404, _not_found("Table " + ".".join(table.groups())))
                return
            held = iam.granted(body.get("permissions") or [], ".".join(table.groups()))
            await _answer(send, 200, {"permissions": held} if held else {})
            return
        if scope.get("type") == "http" and (project := PROJECT.match(path)):
            name, verb = project.groups()
            body = await _body(receive) if method == "POST" else {}
            if verb is None and method == "GET":
                number = iam.project_number()
                await _answer(send, 200, {"name": f"projects/{number}", "projectId": name, "state": "ACTIVE"})
            elif verb == "testIamPermissions":
                held = iam.granted(body.get("permissions") or [], f"projects/{name}")
                await _answer(send, 200, {"permissions": held} if held else {})
            elif verb == "getIamPolicy":
                await _answer(send, 200, {"version": 1, "bindings": iam.bindings(), "etag": "BwXlocal"})
            else:
                await _answer(send, 404, _not_found(path))
            return
        await self.app(scope, receive, send)


def install() -> None:
    """Wrap bqemulator's REST app (before its server starts; bigquery_gate wraps it again, outermost)."""
    from bqemulator import server

    create_app = server.create_app
    server.create_app = lambda context: IamASGI(create_app(context), context)  # type: ignore[assignment,return-value]
