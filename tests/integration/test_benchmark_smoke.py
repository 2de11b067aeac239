"""benchmarks/vs_naive_flow.py --quick (N=2,000) runs end to end and its figures agree with what the flows must do.

The script starts its own local stack, so this test does not use the session's. It checks the counts the cache
decides (not timings): the package sends N, then 0 on the unchanged re-run, then exactly the added 1%; the naive flow
sends everything every time; the counting proxy saw the Vertex and BigQuery calls the runs imply; and the printed
table shows the same numbers as the JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "vs_naive_flow.py"
N = 2_000
ADDED = 20


def run_row(output: str, run: str, label: str) -> list[str]:
    """The cells of one row of the printed table of `run`."""
    block = output.split(f"run: {run}", 1)[1].split("\n\n", 1)[0]
    line = next(line for line in block.splitlines() if line.strip().startswith(label))
    return line.strip()[len(label) :].split()


@pytest.mark.integration
def test_quick_benchmark_figures_are_consistent(tmp_path: Path) -> None:
    out_file = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json-out", str(out_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    figures = json.loads(out_file.read_text())
    (size,) = figures["sizes"]
    assert (size["rows"], size["added_rows"]) == (N, ADDED)
    runs = size["runs"]
    assert set(runs) == {"first", "unchanged", "plus_1pct"}
    assert set(runs["first"]) == {"package", "naive_5s"}

    package = {run: runs[run]["package"] for run in runs}
    naive = {run: runs[run]["naive_5s"] for run in runs}
    # the cache: everything once, nothing again, then only the new 1%
    assert [package[r]["requests_sent"] for r in ("first", "unchanged", "plus_1pct")] == [N, 0, ADDED]
    assert [package[r]["answered"] for r in ("first", "unchanged", "plus_1pct")] == [N, N, N + ADDED]
    # the naive flow has no cache: the whole table every time, one job each
    assert [naive[r]["requests_sent"] for r in ("first", "unchanged", "plus_1pct")] == [N, N, N + ADDED]
    assert [naive[r]["jobs"] for r in ("first", "unchanged", "plus_1pct")] == [1, 1, 1]
    # what the counting proxy saw: no Vertex call at all on the package's unchanged re-run, one create per job
    assert package["unchanged"]["vertex_calls"] == {}
    assert package["first"]["vertex_calls"].get("create") == 1
    assert naive["unchanged"]["vertex_calls"].get("create") == 1
    assert naive["unchanged"]["vertex_calls"].get("get", 0) >= 1
    # CTAS, SELECT * and the load job are BigQuery jobs the proxy counted; the package's dbt run issues some too
    assert naive["first"]["bq_jobs"] >= 3
    assert package["unchanged"]["bq_jobs"] >= 1
    assert package["first"]["bq_jobs"] > package["unchanged"]["bq_jobs"]  # submit + merge + ledger add jobs
    # bqemulator reports totalBytesProcessed as 0 (no cost model): the script must say n/a, not 0
    assert package["first"]["bytes_processed"] is None
    for run in runs:
        assert package[run]["rss_mib"]["client"] > 0 and naive[run]["rss_mib"]["client"] > 0
    assert figures["consistency"] == {str(N): []}

    # the printed table carries the same numbers, and the targets are checked (verdicts, not only printed)
    assert run_row(output, "unchanged", "requests sent") == ["0", f"{N:,}", "0.00"]
    expected_plus = [f"{ADDED:,}", f"{N + ADDED:,}", f"{ADDED / (N + ADDED):.2f}"]
    assert run_row(output, "plus_1pct", "requests sent") == expected_plus
    assert re.search(r"(PASS|MISS)  N=2,000 unchanged wall time <= 0\.10 of naive", output)
    assert f"N={N:,}: OK" in output
    assert {t["verdict"] for t in figures["targets"]} <= {"PASS", "MISS", "n/a"}
