"""Progress lines for long waits: one line per state change, and a heartbeat while a job sits in one state."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, write: Callable[[str], None] | None = None, heartbeat_seconds: float = 60.0) -> None:
        self._write = write or (lambda line: print(line, file=sys.stdout, flush=True))
        self.heartbeat_seconds = heartbeat_seconds
        self._last: dict[str, tuple[str, float]] = {}

    def say(self, message: str) -> None:
        self._write(f"gemini_batch: {message}")

    def job_state(self, model: str, job: str, state: str, started: float, detail: str = "") -> None:
        """Report a job's state when it changes, or every heartbeat_seconds while it does not."""
        now = time.monotonic()
        last = self._last.get(job)
        if last and last[0] == state and now - last[1] < self.heartbeat_seconds:
            return
        self._last[job] = (state, now)
        short = job.rsplit("/", 1)[-1]
        extra = f", {detail}" if detail else ""
        self.say(
            f"{model}: job {short} {state.removeprefix('JOB_STATE_')}, {format_elapsed(now - started)} elapsed{extra}"
        )
