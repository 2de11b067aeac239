"""Progress output (progress.py): whole lines from many threads, heartbeats only in plain output, the live table."""

from __future__ import annotations

import io
import threading
import time

import pytest
from rich.console import Console

from gemini_batch.progress import ENV_PROGRESS, Progress, live_wanted

JOB = "projects/p/locations/us-central1/batchPredictionJobs/42"


def test_lines_from_many_threads_never_interleave() -> None:
    written: list[str] = []

    def slow_write(line: str) -> None:  # a stream that lets other threads in between characters
        for char in line + "\n":
            written.append(char)
            time.sleep(0)

    progress = Progress(write=slow_write)
    messages = {f"model_{t}: line {i} " + "x" * 40 for t in range(6) for i in range(20)}
    threads = [
        threading.Thread(target=lambda t=t: [progress.say(f"model_{t}: line {i} " + "x" * 40) for i in range(20)])
        for t in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = "".join(written).splitlines()
    assert sorted(lines) == sorted(f"gemini_batch: {m}" for m in messages)


def test_plain_lines_repeat_counts_every_heartbeat() -> None:
    lines: list[str] = []
    progress = Progress(write=lines.append, heartbeat_seconds=0)
    progress.job_state("m", JOB, "JOB_STATE_RUNNING", time.monotonic(), "10 requests, 3 ok / 0 failed")
    progress.job_state("m", JOB, "JOB_STATE_RUNNING", time.monotonic(), "10 requests, 7 ok / 1 failed")
    assert len(lines) == 2
    assert "job 42 RUNNING" in lines[1] and "7 ok / 1 failed" in lines[1]


def test_live_display_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PROGRESS, "live")
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140, color_system=None)
    progress = Progress(console=console, heartbeat_seconds=0)
    assert progress.live
    with progress.waiting():
        progress.job_state("review_insights", JOB, "JOB_STATE_PENDING", time.monotonic(), "368 requests")
        progress.job_state("review_insights", JOB, "JOB_STATE_PENDING", time.monotonic(), "368 requests")
        progress.job_state("review_insights", JOB, "JOB_STATE_RUNNING", time.monotonic(), "368 requests, 12 ok")
    out = screen.getvalue()
    # one line per state change (no heartbeat lines while the live table shows the counts)
    assert out.count("gemini_batch: review_insights: job 42 PENDING") == 1
    assert out.count("gemini_batch: review_insights: job 42 RUNNING") == 1
    assert "gemini_batch: batch jobs" in out  # the live table was drawn, with the job's counts in it
    assert "368 requests, 12 ok" in out


@pytest.mark.parametrize(
    ("terminal", "env", "live"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"CI": "true"}, False),
        (True, {ENV_PROGRESS: "plain"}, False),
        (False, {ENV_PROGRESS: "live"}, True),
    ],
)
def test_live_only_on_an_interactive_terminal(terminal: bool, env: dict[str, str], live: bool) -> None:
    console = Console(file=io.StringIO(), force_terminal=terminal)
    assert live_wanted(console, env) is live


def test_summary_table_plain_when_not_live() -> None:
    lines: list[str] = []
    Progress(write=lines.append).table("run summary", ["model", "sent"], [["m", "3"]], "model  sent\nm         3")
    assert lines == ["gemini_batch: run summary:\nmodel  sent\nm         3"]
