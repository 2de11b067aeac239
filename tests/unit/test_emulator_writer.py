"""The background output writer: batches chunks by size and age, flushes on close, surfaces load errors."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from gemini_batch.emulator.bigquery_io import BackgroundWriter, OutputWriter


class RecordingWriter:
    """Stands in for OutputWriter: records each load's row count; can be told to fail."""

    def __init__(self, fail: bool = False) -> None:
        self.loads: list[int] = []
        self.fail = fail
        self.lock = threading.Lock()

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self.fail:
            raise RuntimeError("load failed")
        with self.lock:
            self.loads.append(len(rows))


def background(inner: RecordingWriter, chunk_rows: int, batch_rows: int, interval: float) -> BackgroundWriter:
    return BackgroundWriter(cast(OutputWriter, inner), chunk_rows, batch_rows, interval)


def chunk(n: int) -> list[dict[str, Any]]:
    return [{"id": i} for i in range(n)]


def test_chunks_are_batched_up_to_batch_rows_and_close_flushes_the_rest() -> None:
    inner = RecordingWriter()
    writer = background(inner, chunk_rows=10, batch_rows=30, interval=60)
    for _ in range(7):
        writer.put(chunk(10))
    writer.close()
    assert inner.loads == [30, 30, 10]


def test_a_small_batch_is_written_once_it_is_old_enough() -> None:
    inner = RecordingWriter()
    writer = background(inner, chunk_rows=5, batch_rows=1000, interval=0.2)
    writer.put(chunk(5))
    deadline = time.monotonic() + 3
    while not inner.loads and time.monotonic() < deadline:
        time.sleep(0.02)
    assert inner.loads == [5], "rows show up without waiting for a full batch"
    writer.close()
    assert inner.loads == [5]


def test_load_errors_reach_the_job_thread() -> None:
    writer = background(RecordingWriter(fail=True), chunk_rows=1, batch_rows=1, interval=0)
    writer.put(chunk(1))
    with pytest.raises(RuntimeError, match="load failed"):
        for _ in range(50):
            writer.put(chunk(1))
            time.sleep(0.01)
    with pytest.raises(RuntimeError, match="load failed"):
        writer.close()
