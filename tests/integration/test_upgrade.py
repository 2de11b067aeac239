"""Upgrading keeps every answer: a project built by the previous release, with that release's own code taken from git
history, then built by this checkout. The first build after the upgrade succeeds and sends nothing again.

The previous release's package (macros, models) and hook (python_hooks) are extracted from git with `git archive`
into a temporary folder and run from there: dbt installs that copy as the project's package and the hook runs with
PYTHONPATH pointing at its python_hooks, in the same virtualenv (nothing new is installed). Then packages.yml points
at this checkout, `dbt deps` runs again, and this checkout's `dbt-gemini-batch build` runs on the same tables, as
an adopter's upgrade does.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.local.stack import StackInfo

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# 0.1.0, the previous release (CHANGELOG.md): its ledger has no missing_count/mismatched_count, its answer caches no
# judged_at/failed_jobs, and it made no answer history tables.
PREVIOUS_RELEASE = "f85b10e6fe74f36a1d4bde7e40a06e4119c4369a"
PREVIOUS_VERSION = "0.1.0"

PROJECT = """\
name: job_postings
version: "1.0.0"
config-version: 2
profile: job_postings
"""

PROFILE = """\
job_postings:
  target: local
  outputs:
    local:
      type: bigquery
      method: oauth-secrets
      token: local-dummy-token
      project: "{{ env_var('GEMINI_BATCH_LOCAL_PROJECT') }}"
      dataset: "{{ env_var('GEMINI_BATCH_DATASET') }}"
      location: us-central1
      api_endpoint: "http://127.0.0.1:{{ env_var('GEMINI_BATCH_BQ_PORT') }}"
      job_retries: 0
      threads: 4
"""

SEED = """\
posting_id,posting_text
1,Senior data engineer in Berlin; salary 70000 to 90000 EUR a year
2,Junior analyst (remote); 40000-50000 USD
3,Barista wanted in Lyon; 12 EUR per hour
"""

# Written for the previous release: gemini_model as a top-level config (meta came later; both are read today).
BATCH_MODEL = """\
{{ config(materialized='gemini_batch', gemini_model='gemini-2.5-flash') }}
select
    posting_id,
    {{ gemini_batch.request(
        prompt='posting_text',
        response_schema={'type': 'OBJECT',
                         'properties': {'seniority': {'type': 'STRING', 'enum': ['junior', 'senior', 'other']},
                                        'salary_min': {'type': 'INTEGER'}},
                         'required': ['seniority']},
    ) }} as request
from {{ ref('postings') }}
"""

MART = """\
select posting_id, {{ gemini_batch.response_json_value('$.seniority') }} as seniority
from {{ ref('posting_facts') }}
"""


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's files (package + hook), extracted from git history."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"], capture_output=True, check=False
    )
    if found.returncode != 0:
        pytest.skip(
            f"the upgrade test needs the git history back to release {PREVIOUS_VERSION} (commit {PREVIOUS_RELEASE[:7]})"
            ", which this checkout lacks (a shallow clone? `git fetch --unshallow`)"
        )
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", PREVIOUS_RELEASE, "dbt_project.yml", "macros", "models",
         "python_hooks"],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    dest = tmp_path_factory.mktemp("previous_release")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    assert f"version: {PREVIOUS_VERSION}" in (dest / "dbt_project.yml").read_text()
    return dest


class Project:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def use_package(self, package: Path) -> None:
        (self.root / "packages.yml").write_text(f"packages:\n  - local: {package}\n")

    def run(self, *command: str, hook_code: Path) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "PYTHONPATH": str(hook_code)}
        return subprocess.run(
            [*command, "--profiles-dir", str(self.root)],
            cwd=self.root, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip


def emulator_jobs(job_client: aiplatform_v1.JobServiceClient, project: str, dataset: str) -> list[Any]:
    """The jobs the Vertex emulator was asked to create over this dataset's tables, whichever version asked."""
    jobs = job_client.list_batch_prediction_jobs(request={"parent": f"projects/{project}/locations/us-central1"})
    return [j for j in jobs if f".{dataset}." in j.input_config.bigquery_source.input_uri]


def columns(bq: bigquery.Client, table: str) -> set[str]:
    return {f.name for f in bq.get_table(table).schema}


def test_first_build_after_upgrading_from_the_previous_release_succeeds_and_sends_nothing_again(
    tmp_path: Path,
    previous_release: Path,
    local_stack: StackInfo,
    bq_client: bigquery.Client,
    job_client: aiplatform_v1.JobServiceClient,
) -> None:
    dataset = f"upgrade_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "job_postings"
    (root / "models").mkdir(parents=True)
    (root / "seeds").mkdir()
    (root / "dbt_project.yml").write_text(PROJECT)
    (root / "profiles.yml").write_text(PROFILE)
    (root / "seeds" / "postings.csv").write_text(SEED)
    (root / "models" / "posting_facts.sql").write_text(BATCH_MODEL)
    (root / "models" / "posting_seniority.sql").write_text(MART)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(local_stack.env(), GEMINI_BATCH_DATASET=dataset, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    project = Project(root, env)
    old_hook = previous_release / "python_hooks"
    ledger = f"{bq_client.project}.{dataset}.gemini_batch_jobs"
    responses = f"{bq_client.project}.{dataset}.posting_facts__responses"

    # -- the previous release builds the project (its hook had no console script of today's name: run its module)
    project.use_package(previous_release)
    dbt = str(BIN / "dbt")
    for command in ([dbt, "deps"], [dbt, "seed"], [sys.executable, "-m", "gemini_batch.cli", "build"]):
        done = project.run(*command, hook_code=old_hook)
        assert done.returncode == 0, f"{PREVIOUS_VERSION}: {' '.join(command)} failed:\n{done.stdout[-3000:]}"
    assert "missing_count" not in columns(bq_client, ledger)  # really the old tables
    assert "judged_at" not in columns(bq_client, responses)
    answered_before = {
        r["posting_id"]: r["seniority"]
        for r in bq_client.query(f"select * from `{bq_client.project}.{dataset}.posting_seniority`").result()
    }
    assert len(answered_before) == 3 and None not in answered_before.values()
    jobs_before = emulator_jobs(job_client, local_stack.project, dataset)
    assert len(jobs_before) == 1

    # -- upgrade: the package and the hook of this checkout, same project, same tables
    project.use_package(REPO)
    assert project.run(dbt, "deps", hook_code=REPO / "python_hooks").returncode == 0
    build = project.run(str(BIN / "dbt-gemini-batch"), "build", hook_code=REPO / "python_hooks")
    assert build.returncode == 0, f"first build after the upgrade failed:\n{build.stdout[-4000:]}{build.stderr[-2000:]}"

    assert emulator_jobs(job_client, local_stack.project, dataset) == jobs_before  # nothing sent again
    assert {"missing_count", "mismatched_count"} <= columns(bq_client, ledger)  # migrated in place
    assert "judged_at" in columns(bq_client, responses)
    history = list(
        bq_client.query(
            f"select job_name, state, request_count from `{bq_client.project}.{dataset}.gemini_batch_job_history`"
        ).result()
    )
    assert [(r["state"], r["request_count"]) for r in history] == [("SUCCEEDED", 3)]
    answered_after = {
        r["posting_id"]: r["seniority"]
        for r in bq_client.query(f"select * from `{bq_client.project}.{dataset}.posting_seniority`").result()
    }
    assert answered_after == answered_before
