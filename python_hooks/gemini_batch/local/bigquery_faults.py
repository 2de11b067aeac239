"""Fault injection for the local BigQuery: answers that are lost after the call took effect.

A test (or the soak) posts rules to `POST /_local/faults` (`GET` shows them with how often each fired):
    {"rules": [{"method": "POST", "path": "/tables$", "body_contains": "gemini_batch_lease_", "times": 1}]}
A request matching a rule (method; `path` a regular expression searched in the URL path; `body_contains` a substring
of the body) is handled as usual, so it takes effect, but its answer is replaced by 503 `backendError`, BigQuery's
answer for a transient backend failure: google-cloud-bigquery retries it (its DEFAULT_RETRY retries the reason
backendError) exactly as it retries a connection dropped before the answer arrived, i.e. a lost response. With
`"after_commit": false` the request is refused without taking effect. Each rule fires `times` times (default 1).
`status`, `reason` and `message` replace the error answered, e.g. BigQuery's failure of a DML statement that conflicts
with another on the same table: 400 `invalidQuery` "Could not serialize access to table ... due to concurrent update".
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

FAULTS_PATH = "/_local/faults"


LOST = "Error encountered during execution. Retrying may solve the problem (injected: response lost)."
STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS",
                412: "FAILED_PRECONDITION", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip


def error_body(status: int = 503, reason: str = "backendError", message: str = LOST) -> bytes:
    """BigQuery's JSON error body (the local BigQuery's patches answer with it too)."""
    return json.dumps(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}],
                "status": STATUS_NAMES.get(status, "UNKNOWN"),
            }
        }
    ).encode()


async def respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json; charset=UTF-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[dict[str, Any]] = []

    def set(self, rules: list[dict[str, Any]]) -> None:
        checked = []
        for rule in rules:
            unknown = set(rule) - {"method", "path", "body_contains", "times", "after_commit", "status", "reason",
                                   "message"}  # fmt: skip
            if unknown:
                raise ValueError(f"unknown fault rule keys {sorted(unknown)}")
            re.compile(rule.get("path", ""))
            checked.append({"times": 1, "after_commit": True, **rule, "fired": 0})
        with self._lock:
            self.rules = checked

    def take(self, method: str, path: str, body: bytes) -> dict[str, Any] | None:
        """The rule this request triggers (counted as fired), or None."""
        with self._lock:
            for rule in self.rules:
                if rule["fired"] >= rule["times"] or rule.get("method", method).upper() != method:
                    continue
                if not re.search(rule.get("path", ""), path):
                    continue
                if rule.get("body_contains") and rule["body_contains"].encode() not in body:
                    continue
                rule["fired"] += 1
                return rule
        return None


FAULTS = Faults()


class FaultsASGI:
    def __init__(self, app: Any, faults: Faults = FAULTS) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        from gemini_batch.local.bigquery_gate import read_body, replaying

        messages = await read_body(receive)
        body = b"".join(m.get("body", b"") for m in messages)
        if scope.get("path") == FAULTS_PATH:
            await self._admin(scope.get("method", "GET"), body, send)
            return
        rule = self.faults.take(scope.get("method", "GET"), scope.get("path", ""), body) if self.faults.rules else None
        if rule is None:
            await self.app(scope, replaying(messages, receive), send)
            return
        if rule["after_commit"]:

            async def discard(message: dict[str, Any]) -> None:
                return None

            await self.app(scope, replaying(messages, receive), discard)
        status = int(rule.get("status", 503))
        await respond(send, status, error_body(status, rule.get("reason", "backendError"), rule.get("message", LOST)))

    async def _admin(self, method: str, body: bytes, send: Any) -> None:
        if method == "POST":
            try:
                data = json.loads(body or b"{}")
                self.faults.set(list(data.get("rules", [])))
            except (ValueError, TypeError, AttributeError, re.error) as exc:
                await respond(send, 400, json.dumps({"error": {"code": 400, "message": str(exc)}}).encode())
                return
        await respond(send, 200, json.dumps({"rules": self.faults.rules}).encode())


def install(faults: Faults = FAULTS) -> None:
    """Wrap bqemulator's REST app (before its server starts; bigquery_gate wraps it again, outermost)."""
    from bqemulator import server

    create_app = server.create_app
    server.create_app = lambda context: FaultsASGI(create_app(context), faults)  # type: ignore[assignment,return-value]
