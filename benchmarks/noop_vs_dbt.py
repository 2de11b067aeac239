"""Wall time of an unchanged `dbt-gemini-batch build` against a plain `dbt build` of the same selection, side by side.

Starts a LocalStack, copies the demo project (integration_tests/: seeds, staging, two gemini_batch models, marts and
their tests), seeds it and answers everything once with `dbt-gemini-batch build`. Then, for each selection (one batch
model; the demo's whole DAG), it alternates `dbt build` and `dbt-gemini-batch build` `--repeat` times (alternating, so
a load change on the machine hits both alike) and prints the median of each, their ratio and PASS/MISS against the
issue's target (unchanged `dbt-gemini-batch build` <= 1.1x plain `dbt build`). Each unchanged hook run must say that
nothing was sent.

    python benchmarks/noop_vs_dbt.py [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gemini_batch.local.stack import LocalStack, StackConfig

TARGET_RATIO = 1.1
SELECTIONS = {"one batch model": ["--select", "review_insights"], "the demo's DAG": ["--select", "+tag:demo"]}


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-4000:] + proc.stderr[-2000:])
        raise SystemExit(f"failed (exit {proc.returncode}): {' '.join(cmd)}")
    return seconds, proc.stdout + proc.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="gemini-batch-noop-bench-"))
    bin_dir = Path(sys.executable).parent
    ok = True
    try:
        stack = LocalStack(StackConfig.on_free_ports(tmp / "stack"))
        info = stack.up()
        try:
            project = tmp / "demo"
            shutil.copytree(
                repo_root() / "integration_tests",
                project,
                ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "package-lock.yml", "profiles.yml"),
            )
            shutil.copyfile(repo_root() / "profiles.example.yml", project / "profiles.yml")
            (project / "packages.yml").write_text(f'packages:\n  - local: "{repo_root()}"\n')
            env = {**os.environ, **info.env(), "GEMINI_BATCH_DATASET": "noop_bench", "GEMINI_BATCH_TARGET": "local"}
            common = ["--profiles-dir", str(project)]
            dbt, gb = str(bin_dir / "dbt"), str(bin_dir / "dbt-gemini-batch")
            for step in (["deps"], ["seed"]):
                timed([dbt, *step, *common], project, env)
            timed([gb, "build", "--select", "+tag:demo", *common], project, env)  # answers everything once
            print(f"{'selection':<18} {'dbt build (s)':>14} {'dbt-gemini-batch build (s)':>27} {'ratio':>7}")
            for name, selection in SELECTIONS.items():
                plain: list[float] = []
                hooked: list[float] = []
                for _ in range(args.repeat):
                    plain.append(timed([dbt, "build", *selection, *common], project, env)[0])
                    seconds, output = timed([gb, "build", *selection, *common], project, env)
                    if re.search(r": submitted \S+ \(\d+ requests\)|^gemini_batch: phase \d", output, re.M):
                        raise SystemExit(f"an unchanged run sent requests or ran phases:\n{output[-3000:]}")
                    hooked.append(seconds)
                ratio = statistics.median(hooked) / statistics.median(plain)
                verdict = ratio <= TARGET_RATIO
                ok &= verdict
                print(
                    f"{name:<18} {statistics.median(plain):>14.1f} {statistics.median(hooked):>27.1f} {ratio:>7.2f}  "
                    f"{'PASS' if verdict else 'MISS'} (target <= {TARGET_RATIO}x; runs: "
                    f"{', '.join(f'{p:.1f}/{h:.1f}' for p, h in zip(plain, hooked, strict=True))})"
                )
        finally:
            stack.down()
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
