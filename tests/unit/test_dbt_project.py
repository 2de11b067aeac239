"""Reading the user's dbt flags and manifest, as the hook does in both the callback and the scheduler path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemini_batch.dbt_project import DbtFlags, Manifest, ProjectError, failed_nodes


def test_flags_are_read_from_dbt_arguments_in_both_spellings(tmp_path: Path) -> None:
    flags = DbtFlags.from_args(
        [
            "run",
            "-s",
            "m+",
            "--project-dir",
            str(tmp_path),
            "--target=prod",
            "--vars",
            "{a: 1}",
            "--target-path",
            "out",
        ],
        env={},
    )
    assert flags.project_dir == tmp_path.resolve()
    assert flags.target == "prod"
    assert flags.vars == {"a": 1}
    assert flags.manifest_path == tmp_path.resolve() / "out" / "manifest.json"
    assert flags.dbt_args()[-2:] == ["--target-path", "out"]


def test_flags_fall_back_to_dbt_environment_variables(tmp_path: Path) -> None:
    flags = DbtFlags.from_args(["run"], env={"DBT_PROJECT_DIR": str(tmp_path), "DBT_TARGET": "dev"})
    assert flags.project_dir == tmp_path.resolve()
    assert flags.target == "dev"


def test_vars_must_be_a_mapping() -> None:
    with pytest.raises(ProjectError, match="--vars"):
        DbtFlags.from_args(["run", "--vars", "[1, 2]"], env={})


def _manifest() -> dict[str, object]:
    def model(name: str, materialized: str, **config: object) -> dict[str, object]:
        return {
            "resource_type": "model",
            "name": name,
            "database": "p",
            "schema": "ds",
            "alias": name,
            "config": {"materialized": materialized, **config},
        }

    return {
        "nodes": {
            "model.x.m1": model("m1", "gemini_batch", gemini_model="gemini-2.5-pro"),
            "model.x.v": model("v", "view"),
            "test.x.t": {"resource_type": "test", "name": "t", "config": {"materialized": "test"}},
        },
        "sources": {
            "source.gemini_batch.gemini_batch.gemini_batch_jobs": {
                "database": "p",
                "schema": "ledger_ds",
                "identifier": "gemini_batch_jobs",
            }
        },
    }


def test_manifest_keeps_gemini_batch_models_and_the_ledger_source() -> None:
    manifest = Manifest.from_dict(_manifest())
    assert list(manifest.nodes) == ["model.x.m1"]
    node = manifest.nodes["model.x.m1"]
    assert node.requests_table == "p.ds.m1__requests"
    assert node.responses_table == "p.ds.m1__responses"
    assert node.config["gemini_model"] == "gemini-2.5-pro"
    assert manifest.ledger_table == "p.ledger_ds.gemini_batch_jobs"


def test_select_by_name_and_unknown_names_list_the_choices() -> None:
    manifest = Manifest.from_dict(_manifest())
    assert [n.name for n in manifest.select(["m1"])] == ["m1"]
    assert [n.name for n in manifest.select([])] == ["m1"]
    with pytest.raises(ProjectError, match="gemini_batch models: m1"):
        manifest.select(["v"])


def test_missing_manifest_says_to_run_dbt_first(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="run `dbt run`"):
        Manifest.load(tmp_path / "manifest.json")


def test_failed_nodes_from_run_results(tmp_path: Path) -> None:
    path = tmp_path / "run_results.json"
    assert failed_nodes(path) == set()
    path.write_text(
        json.dumps(
            {
                "results": [
                    {"unique_id": "model.x.a", "status": "error"},
                    {"unique_id": "model.x.b", "status": "success"},
                ]
            }
        )
    )
    assert failed_nodes(path) == {"model.x.a"}


def test_loading_credentials_inside_a_dbt_run_keeps_that_runs_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    """The callback loads the profile while dbt is still running: dbt's global flags (with the project's behaviour
    flags) must survive it, or dbt fails later in the same run (a package model ref()ing another one)."""
    from dbt.flags import get_flags, set_flags

    from gemini_batch.dbt_project import load_credentials

    project = Path(__file__).resolve().parents[2] / "integration_tests"
    monkeypatch.setenv("GEMINI_BATCH_BQ_PORT", "9050")
    running = object()
    set_flags(running)
    try:
        credentials = load_credentials(DbtFlags(project_dir=project, profiles_dir=project, target="local"))
        assert credentials.type == "bigquery"
        assert get_flags() is running
    finally:
        set_flags(None)
