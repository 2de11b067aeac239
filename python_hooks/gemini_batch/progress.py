"""Progress while jobs run: one line per state change, periodic counts, and a live display on a terminal.

Two outputs, chosen once per process:
  * plain lines (CI logs, pipes, tests): a line when a job changes state, and every heartbeat_seconds while it does
    not, with Vertex's completionStats counts in the line;
  * on an interactive terminal (rich): the same state-change lines, printed above a live table of every job being
    waited for (model, job, state, elapsed, counts) that rich redraws in place, so no heartbeat lines pile up.
Every line is written whole under one lock: the dbt threads (which submit) and the waiting loop never interleave
characters of two lines. GEMINI_BATCH_PROGRESS=plain forces plain lines; CI=true (set by GitHub Actions, GitLab CI
and most CI services) does too.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ENV_PROGRESS = "GEMINI_BATCH_PROGRESS"  # "plain" forces plain lines, "live" forces the live display


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@dataclass
class JobLine:
    model: str
    job: str
    state: str
    started: float
    detail: str
    reported: float  # monotonic time of the last line written for this job


def live_wanted(console: Any, env: dict[str, str] | None = None) -> bool:
    """The live display only on an interactive terminal, and never in CI or when plain lines are asked for."""
    env = dict(os.environ) if env is None else env
    choice = env.get(ENV_PROGRESS, "").strip().lower()
    if choice in ("plain", "live"):
        return choice == "live"
    if env.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return False
    return bool(console.is_terminal) and not console.is_dumb_terminal


class Progress:
    def __init__(
        self,
        write: Callable[[str], None] | None = None,
        heartbeat_seconds: float = 60.0,
        console: Any | None = None,
    ) -> None:
        """write: where plain lines go (tests); console: a rich Console for the live display (default: stdout's,
        used only when live_wanted says so)."""
        self.heartbeat_seconds = heartbeat_seconds
        self._custom_write = write
        self._lock = threading.RLock()
        self._jobs: dict[str, JobLine] = {}
        self._live: Any | None = None
        self._console = console
        if console is None and write is None:
            from rich.console import Console

            self._console = Console(file=sys.stdout, highlight=False)
        self.live = self._console is not None and live_wanted(self._console)

    # -- lines -------------------------------------------------------------------------------------------------
    def _write(self, line: str) -> None:
        with self._lock:  # one whole line at a time, whichever thread writes
            if self._live is not None:
                from rich.text import Text

                self._live.console.print(Text(line))  # above the live table, which rich redraws below it
            elif self._custom_write is not None:
                self._custom_write(line)
            else:
                sys.stdout.write(line + "\n")  # sys.stdout at call time (pytest and dbt may swap it)
                sys.stdout.flush()

    def say(self, message: str) -> None:
        self._write(f"gemini_batch: {message}")

    def job_state(self, model: str, job: str, state: str, started: float, detail: str = "") -> None:
        """Report a job's state when it changes; while it does not, every heartbeat_seconds in plain lines (the live
        display shows the counts as they come instead)."""
        now = time.monotonic()
        with self._lock:
            last = self._jobs.get(job)
            heartbeat = self._live is None and last is not None and now - last.reported >= self.heartbeat_seconds
            write = last is None or last.state != state or heartbeat
            reported = now if write or last is None else last.reported
            self._jobs[job] = JobLine(model, job, state, started, detail, reported)
            if write:
                elapsed = format_elapsed(now - started)
                self.say(f"{model}: job {_short(job)} {_state(state)}, {elapsed} elapsed{_extra(detail)}")

    # -- the live display --------------------------------------------------------------------------------------
    @contextmanager
    def waiting(self) -> Iterator[None]:
        """While jobs are waited for: the live table on a terminal; nothing changes for plain lines."""
        if not self.live or self._live is not None:
            yield
            return
        from rich.live import Live

        live = Live(console=self._console, get_renderable=self._table, refresh_per_second=2, transient=True)
        with live:
            with self._lock:
                self._live = live
            try:
                yield
            finally:
                with self._lock:
                    self._live = None
                    self._jobs.clear()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title="gemini_batch: batch jobs", title_justify="left", expand=False)
        for column in ("model", "job", "state", "elapsed", "requests"):
            table.add_column(column, justify="right" if column == "elapsed" else "left")
        now = time.monotonic()
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: (j.model, j.job))
        for j in jobs:
            table.add_row(j.model, _short(j.job), _state(j.state), format_elapsed(now - j.started), j.detail)
        return table

    def table(self, title: str, header: list[str], rows: list[list[str]], plain: str) -> None:
        """A finished table (the end-of-run summary): rich on a terminal, the given plain text elsewhere."""
        if not self.live:
            self.say(f"{title}:\n{plain}")
            return
        from rich.table import Table

        table = Table(title=f"gemini_batch: {title}", title_justify="left")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        with self._lock:
            console = self._live.console if self._live is not None else self._console
            assert console is not None  # self.live implies a console
            console.print(table)


def _short(job: str) -> str:
    return job.rsplit("/", 1)[-1]


def _state(state: str) -> str:
    return state.removeprefix("JOB_STATE_")


def _extra(detail: str) -> str:
    return f", {detail}" if detail else ""
