"""Fault injection: which API calls error, which rows fail, which jobs fail. All of it reproducible.

API errors follow an evenly spaced schedule rather than a random draw, so "api_error_rate 0.5" means exactly
every second eligible call and a test can predict which call fails. Row failures hash the request with the
seed, so the same input fails the same rows on every run.
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import threading
from fractions import Fraction

from gemini_batch.emulator.config import INJECTABLE_API_CODES, EmulatorConfig
from gemini_batch.emulator.errors import ApiError


class ApiFaults:
    """Counts eligible API calls and says which of them answer with an injected error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls = 0
        self._injected = 0

    def reset(self) -> None:
        with self._lock:
            self._calls = 0
            self._injected = 0

    def check(self, method: str, config: EmulatorConfig) -> ApiError | None:
        """The error this call must answer with, or None. Counts the call when `method` is eligible."""
        if config.api_error_rate <= 0 or method not in config.api_error_methods:
            return None
        rate = Fraction(config.api_error_rate).limit_denominator(1_000_000)
        with self._lock:
            n = self._calls
            self._calls += 1
            if math.floor((n + 1) * rate) <= math.floor(n * rate):
                return None
            code = config.api_error_codes[self._injected % len(config.api_error_codes)]
            self._injected += 1
        status = INJECTABLE_API_CODES[code]
        messages = {
            "RESOURCE_EXHAUSTED": "Quota exceeded for aiplatform.googleapis.com/batch_prediction_requests (injected).",
            "UNAVAILABLE": "The service is currently unavailable (injected).",
            "INTERNAL": "Internal error encountered (injected).",
            "DEADLINE_EXCEEDED": "Deadline exceeded (injected).",
        }
        return ApiError(status, messages[status])


def unit_interval(*parts: object) -> float:
    """A stable number in [0, 1) from the given parts."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def row_fails(request_key: str, config: EmulatorConfig) -> bool:
    """Whether an injected failure answers this row: a fixed fraction of requests, the same ones every run."""
    return (
        config.row_failure_rate > 0 and unit_interval("row-failure", config.seed, request_key) < config.row_failure_rate
    )


def job_fails(display_name: str, config: EmulatorConfig) -> bool:
    """Whether fail_jobs (True, a glob or a list of globs over displayName) picks this job."""
    rule = config.fail_jobs
    if isinstance(rule, bool):
        return rule
    patterns = [rule] if isinstance(rule, str) else list(rule)
    return any(fnmatch.fnmatchcase(display_name, pattern) for pattern in patterns)


def row_dropped(request_key: str, config: EmulatorConfig) -> bool:
    """Whether drop_rows_rate leaves this row out of the output (a short output; the same rows on every run)."""
    return config.drop_rows_rate > 0 and unit_interval("row-dropped", config.seed, request_key) < config.drop_rows_rate
