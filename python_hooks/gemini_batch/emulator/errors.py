"""google.rpc.Status errors, in the JSON shape Google REST APIs send them.

The aiplatform REST client picks its exception class from the HTTP status alone (google.api_core's
from_http_status): 400 -> BadRequest (for INVALID_ARGUMENT and FAILED_PRECONDITION alike), 404 -> NotFound,
429 -> TooManyRequests, 503 -> ServiceUnavailable. The body's "status" name is what tells INVALID_ARGUMENT
from FAILED_PRECONDITION, so both are kept exactly as Vertex sends them.
"""

from __future__ import annotations

from typing import Any

# google.rpc.Code name -> (numeric code, HTTP status)
RPC_CODES: dict[str, tuple[int, int]] = {
    "CANCELLED": (1, 499),
    "UNKNOWN": (2, 500),
    "INVALID_ARGUMENT": (3, 400),
    "DEADLINE_EXCEEDED": (4, 504),
    "NOT_FOUND": (5, 404),
    "ALREADY_EXISTS": (6, 409),
    "PERMISSION_DENIED": (7, 403),
    "RESOURCE_EXHAUSTED": (8, 429),
    "FAILED_PRECONDITION": (9, 400),
    "ABORTED": (10, 409),
    "OUT_OF_RANGE": (11, 400),
    "UNIMPLEMENTED": (12, 501),
    "INTERNAL": (13, 500),
    "UNAVAILABLE": (14, 503),
    "UNAUTHENTICATED": (16, 401),
}
RPC_NAME_BY_NUMBER = {number: name for name, (number, _) in RPC_CODES.items()}
HTTP_TO_RPC_NAME = {
    400: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class ApiError(Exception):
    """Raised by a handler to answer with a google.rpc.Status error body."""

    def __init__(self, status: str, message: str) -> None:
        if status not in RPC_CODES:
            raise ValueError(f"unknown google.rpc status {status}")
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def http_status(self) -> int:
        return RPC_CODES[self.status][1]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.http_status, "message": self.message, "status": self.status}}


def invalid_argument(message: str) -> ApiError:
    return ApiError("INVALID_ARGUMENT", message)


def not_found(message: str) -> ApiError:
    return ApiError("NOT_FOUND", message)


def failed_precondition(message: str) -> ApiError:
    return ApiError("FAILED_PRECONDITION", message)


def rpc_status(name: str, message: str) -> dict[str, Any]:
    """A google.rpc.Status as a job's `error` field carries it: numeric code, not the HTTP one."""
    return {"code": RPC_CODES[name][0], "message": message}
