"""benchmarks/soak.py --quick finds what is planted: a duplicate, a lost answer and a leaked table.

The script starts its own local stack and drives the package through its CLI (faults, a kill, two runs at once); the
test then plants, through the real clients, one case of each thing the soak must catch: the same input table submitted
twice through the JobServiceClient (2 hashes the cache already answered, so both jobs are duplicates), an answered row
deleted from m__responses (an answer Vertex gave that the cache lost), and a job-like table left in the dataset. The
figures must name exactly those, the exit code must be 1, and the totals must agree with the project's rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "soak.py"
MODELS, ROWS, KILLS, PER_JOB = 2, 20, 1, 10


@pytest.mark.integration
def test_quick_soak_reports_planted_duplicate_loss_and_leak(tmp_path: Path) -> None:
    out_file = tmp_path / "soak.json"
    proc = subprocess.run(
        [
            sys.executable, str(SCRIPT), "--quick", "--seed", "3", "--json-out", str(out_file),
            "--work-dir", str(tmp_path / "work"), "--inject-duplicate", "--inject-lost", "--inject-leak",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-4000:]  # planted faults: never a pass, never "could not run" (2)
    figures = json.loads(out_file.read_text())
    injected = figures["injected"]

    # the shape of the soak: both models, each split into jobs of PER_JOB; the failed-job run, the kill round and the
    # pause round each add PER_JOB rows
    plan = figures["plan"]
    assert (plan["models"], plan["rows"], plan["kills"], plan["per_job"]) == (MODELS, ROWS, KILLS, PER_JOB)
    pauses = len(plan["pause_steps"])
    assert figures["requests"] == MODELS * (ROWS + (1 + KILLS + pauses) * PER_JOB)  # every prompt distinct
    # the faults of the leases' issue were applied: a run frozen past its lease, lost lease-insert answers
    assert len(figures["pauses"]) == pauses and figures["lease_insert_answers_lost"] >= 1
    # and the package's own bookkeeping held under them
    assert figures["ledger_mismatches"] == [] and figures["attempts_over"] == []
    assert len(figures["failed_jobs"]) == 1 and len(figures["cancelled_job"]) == 1
    assert figures["answered"] + figures["given_up"] + figures["pending"] == figures["requests"]
    assert sum(figures["jobs_by_state"].values()) == figures["jobs"] == len(figures["job_list"])
    assert len([r for r in figures["runs"] if r["label"].startswith("concurrent-")]) == 2

    # the duplicate: both injected jobs are listed, each with the 2 hashes the cache had already answered
    dup_jobs = {d["job"]: d for d in figures["duplicate_jobs"]}
    first, second = injected["duplicate_jobs"]
    assert len(dup_jobs[first]["hashes"]) == 2 and dup_jobs[first]["answered_by"]
    assert dup_jobs[second]["hashes"] == dup_jobs[first]["hashes"]
    assert first in dup_jobs[second]["in_flight_in"] or first in dup_jobs[second]["answered_by"]
    assert figures["duplicates"] == sum(len(d["hashes"]) for d in figures["duplicate_jobs"]) >= 4

    # the loss: the deleted answer is reported, with the job that had answered it
    lost = {(x["model"], x["hash"]): x for x in figures["lost_hashes"]}
    assert ("soak_m1", injected["lost_hash"]) in lost
    assert figures["lost"] == len(figures["lost_hashes"]) >= 1

    # the leak: the planted table, and no model relation or package table counted as one
    assert injected["leaked_table"] in figures["leaked_tables"]
    assert figures["leaked"] == len(figures["leaked_tables"])
    for model in ("soak_m1", "soak_m2"):
        assert f"{model}__responses" in figures["kept_tables"]
        assert f"{model}__responses" not in figures["leaked_tables"]

    # the printed report carries the same figures and the verdict
    assert f"duplicates  {figures['duplicates']:>6}" in output
    assert f"LEAKED {injected['leaked_table']}" in output
    assert output.rstrip().endswith("FAIL")
