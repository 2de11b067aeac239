"""A throwaway copy of integration_tests/ (the demo dbt project) pointed at the session's local stack.

Each test gets its own copy and its own BigQuery dataset, so tests can add seed rows or models without touching the
repo, and the package is installed from this checkout (packages.yml -> the repo root).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from gemini_batch.dbt_project import BatchNode, DbtFlags
from gemini_batch.session import Session

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@dataclass
class CommandResult:
    returncode: int
    output: str


# dbt's saved manifest (dbt parses again only the files that differ from it, if the profile and vars are the same)
PARTIAL_PARSE_FILE = Path("target") / "partial_parse.msgpack"


class DemoProject:
    def __init__(
        self, root: Path, env: dict[str, str], bq: bigquery.Client, vertex_endpoint: str, dataset: str = ""
    ) -> None:
        self.root = root
        self.dataset = dataset or f"demo_{uuid.uuid4().hex[:8]}"
        self.env = {**env, "GEMINI_BATCH_DATASET": self.dataset, "GEMINI_BATCH_TARGET": "local"}
        self.bq = bq
        self.vertex_endpoint = vertex_endpoint

    @classmethod
    def copy(cls, dest: Path, env: dict[str, str], bq: bigquery.Client, vertex_endpoint: str) -> DemoProject:
        src = REPO / "integration_tests"
        shutil.copytree(
            src,
            dest,
            ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", "package-lock.yml", "profiles.yml"),
        )
        (dest / "packages.yml").write_text(f"packages:\n  - local: {REPO}\n")
        shutil.copyfile(REPO / "profiles.example.yml", dest / "profiles.yml")
        project = cls(dest, env, bq, vertex_endpoint)
        project.dbt("deps")
        return project

    def clone(self, dest: Path, env: dict[str, str], dataset: str = "") -> DemoProject:
        """A copy of this (deps installed, seeded) project in a dataset of its own, with this project's seed tables.

        The seed tables are copied in BigQuery rather than loaded again by `dbt seed`; the files keep the installed
        package (dbt_packages links to the repo), so no `dbt deps` either. `dataset`: a name used before (dropped
        and made again, empty), whose profile matches the saved manifest this project parsed for it (parse_for):
        the copy's first dbt command then parses only the files a test changed, not the whole project."""
        shutil.copytree(self.root, dest, symlinks=True, ignore=shutil.ignore_patterns("target", "logs"))
        if (self.root / PARTIAL_PARSE_FILE).exists():
            (dest / PARTIAL_PARSE_FILE).parent.mkdir()
            shutil.copyfile(self.root / PARTIAL_PARSE_FILE, dest / PARTIAL_PARSE_FILE)
        project = type(self)(dest, env, self.bq, self.vertex_endpoint, dataset)
        if dataset:
            self.bq.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
        source = f"{self.bq.project}.{self.dataset}"
        made = bigquery.Dataset(f"{self.bq.project}.{project.dataset}")
        made.location = self.bq.get_dataset(source).location
        self.bq.create_dataset(made)
        for table in self.bq.list_tables(source):
            self.bq.query(
                f"create table `{project.table(table.table_id)}` as select * from `{source}.{table.table_id}`"
            ).result()
        return project

    def parse_for(self, dataset: str) -> None:
        """Save dbt's manifest as a copy in `dataset` would parse it (the dataset is part of the profile, which dbt
        compares before it parses partially): clone(dataset=...) copies it."""
        saved = self.env
        self.env = {**saved, "GEMINI_BATCH_DATASET": dataset}
        try:
            self.dbt("parse")
        finally:
            self.env = saved

    # -- commands ------------------------------------------------------------------------------------------------
    def _run(self, exe: str, *args: str) -> CommandResult:
        proc = subprocess.run(
            [str(BIN / exe), *args, "--profiles-dir", str(self.root)],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        return CommandResult(proc.returncode, proc.stdout + proc.stderr)

    def dbt(self, *args: str, ok: bool = True) -> CommandResult:
        result = self._run("dbt", *args)
        if ok:
            assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.output[-4000:]}"
        return result

    def gb(self, *args: str, ok: bool = True) -> CommandResult:
        """dbt-gemini-batch with the given arguments."""
        result = self._run("dbt-gemini-batch", *args)
        if ok:
            assert result.returncode == 0, f"dbt-gemini-batch {' '.join(args)} failed:\n{result.output[-4000:]}"
        return result

    # -- BigQuery ------------------------------------------------------------------------------------------------
    def table(self, name: str) -> str:
        return f"{self.bq.project}.{self.dataset}.{name}"

    def rows(self, sql: str) -> list[dict[str, Any]]:
        sql = sql.replace("{ds}", f"{self.bq.project}.{self.dataset}")
        return [dict(r) for r in self.bq.query(sql).result()]

    def scalar(self, sql: str) -> Any:
        return next(iter(self.rows(sql)[0].values()))

    def ledger(self) -> list[dict[str, Any]]:
        """Every job's current state: the ledger is append-only, a job's latest event is its state."""
        return self.rows(
            "select * from `{ds}.gemini_batch_jobs` "
            "qualify row_number() over (partition by input_table order by updated_at desc) = 1 order by submitted_at"
        )

    # -- data ----------------------------------------------------------------------------------------------------
    def append_reviews(self, texts: list[str], first_id: int = 900001) -> None:
        """Add reviews (product 1, rating 4) to the seed CSV of this copy."""
        import csv

        path = self.root / "seeds" / "demo" / "shop_reviews.csv"
        with path.open(newline="") as f:
            header = next(csv.reader(f))
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
            for i, text in enumerate(texts):
                row = {name: "" for name in header}
                row.update(
                    review_id=str(first_id + i), product_id="1", customer_id="1", rating="4", review_title="added",
                    review_text=text, review_language="en", submitted_at="2026-11-23 10:00:00",
                    verified_purchase="true", helpful_votes="0",
                )  # fmt: skip
                writer.writerow(row)

    def add_review_model_meta(self, entries: str) -> None:
        """Add `meta` entries (Python dict items, e.g. "'on_resend': 'error'") to the demo's review_insights model."""
        path = self.root / "models" / "demo" / "batch" / "review_insights.sql"
        text = path.read_text()
        line = "            'gemini_model': 'gemini-2.5-flash',\n"
        assert line in text, "the demo model no longer gives gemini_model in meta as this helper expects"
        path.write_text(text.replace(line, f"{line}            {entries},\n", 1))

    def add_model(self, relative_path: str, sql: str) -> None:
        path = self.root / "models" / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)

    def add_review_batch_model(self, name: str, config: str) -> None:
        """A gemini_batch model `name` over the demo's reviews (one request per review text) with the given config
        arguments, e.g. "max_requests_per_job=100"."""
        self.add_model(
            f"demo/batch/{name}.sql",
            f"{{{{ config(materialized='gemini_batch', {config}) }}}}\n"
            "select review_id, {{ gemini_batch.request(prompt='review_text_clean') }} as request\n"
            "from {{ ref('stg_shop__reviews') }}\n",
        )


def get_emulator_config(vertex_endpoint: str) -> dict[str, Any]:
    """The running Vertex emulator's whole config."""
    with urllib.request.urlopen(f"{vertex_endpoint}/emulator/config", timeout=10) as resp:  # noqa: S310 - loopback
        result: dict[str, Any] = json.loads(resp.read())
    return result


def set_emulator_config(vertex_endpoint: str, patch: dict[str, Any]) -> dict[str, Any]:
    """Merge-update the running Vertex emulator's config (fault injection, timings); returns the new config."""
    req = urllib.request.Request(  # noqa: S310 - the loopback emulator
        f"{vertex_endpoint}/emulator/config",
        data=json.dumps(patch).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - the loopback emulator
        result: dict[str, Any] = json.loads(resp.read())
    return result


def reset_emulator(vertex_endpoint: str) -> None:
    """The running Vertex emulator forgets every job, once each has stopped (POST /emulator/reset)."""
    req = urllib.request.Request(f"{vertex_endpoint}/emulator/reset", data=b"{}", method="POST")  # noqa: S310
    with urllib.request.urlopen(req, timeout=60):  # noqa: S310 - the loopback emulator
        pass


def set_bigquery_faults(bigquery_endpoint: str, rules: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Replace the local BigQuery's fault rules (gemini_batch.local.bigquery_faults); returns them as it holds them,
    with how often each fired. None: only read them."""
    req = urllib.request.Request(  # noqa: S310 - the loopback local BigQuery
        f"{bigquery_endpoint}/_local/faults",
        data=None if rules is None else json.dumps({"rules": rules}).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if rules is None else "POST",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - the loopback local BigQuery
        held: list[dict[str, Any]] = json.loads(resp.read())["rules"]
    return held


class RecordingSession:
    """Keeps the body of every REST call the real BigQuery client sends (bqemulator stores no job labels, priority or
    table expiration, so the request is where they can be seen)."""

    def __init__(self, http: Any) -> None:
        self.http = http
        self.bodies: list[dict[str, Any]] = []

    def request(self, method: str, url: str, data: Any = None, **kwargs: Any) -> Any:
        if data:
            self.bodies.append(json.loads(data))
        return self.http.request(method, url, data=data, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.http, name)


def recording_session(
    demo: DemoProject, monkeypatch: pytest.MonkeyPatch, model: str = "review_insights", invocation_id: str = ""
) -> tuple[Session, RecordingSession, BatchNode]:
    """A hook session on the demo's target (a new invocation id, unless given: a dbt run's, to take what its
    materialization handed over) whose BigQuery client records every request body, and the demo's batch model
    `model`."""
    monkeypatch.setenv("GEMINI_BATCH_DATASET", demo.dataset)  # the profile's dataset, as in demo.env
    flags = DbtFlags.from_args(["--project-dir", str(demo.root), "--profiles-dir", str(demo.root)])
    session = Session.open(flags, invocation_id=invocation_id or "inv-" + uuid.uuid4().hex[:8])
    recorder = RecordingSession(session.runner.bq._http)
    session.runner.bq._http_internal = recorder  # google.cloud.client.Client keeps its session there
    node = next(n for n in session.manifest.nodes.values() if n.name == model)
    return session, recorder, node
