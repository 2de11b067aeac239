"""Every macro and every model the repo ships is documented in a yml file (a demanding user reads them in dbt docs)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PROJECTS = [REPO, REPO / "integration_tests"]


def _yml_entries(project: Path, key: str) -> dict[str, dict[str, object]]:
    entries: dict[str, dict[str, object]] = {}
    for folder in ("macros", "models"):
        for path in (project / folder).rglob("*.yml"):
            for entry in (yaml.safe_load(path.read_text()) or {}).get(key, []) or []:
                entries[entry["name"]] = entry
    return entries


def test_every_macro_is_documented() -> None:
    missing = []
    seen = 0
    for project in PROJECTS:
        documented = _yml_entries(project, "macros")
        for path in (project / "macros").rglob("*.sql"):
            text = path.read_text()
            names = re.findall(r"{%-?\s*macro\s+(\w+)\s*\(", text)
            names += [
                f"materialization_{m}_{a}" for m, a in re.findall(r"materialization\s+(\w+),\s*adapter='(\w+)'", text)
            ]
            missing += [f"{path.relative_to(REPO)}: {n}" for n in names if not documented.get(n, {}).get("description")]
            seen += len(names)
    assert seen > 30, "the scan found too few macros: is the regex still right?"
    assert missing == []


def test_every_model_and_its_columns_are_documented() -> None:
    missing = []
    models = [p for project in PROJECTS for p in (project / "models").rglob("*.sql")]
    assert len(models) > 10
    for project in PROJECTS:
        documented = _yml_entries(project, "models")
        for path in (project / "models").rglob("*.sql"):
            entry = documented.get(path.stem)
            if not entry or not entry.get("description"):
                missing.append(f"{path.relative_to(REPO)}: model")
                continue
            columns = entry.get("columns") or []
            assert isinstance(columns, list)
            missing += [f"{path.stem}.{c['name']}" for c in columns if not c.get("description")]
            if not columns:
                missing.append(f"{path.stem}: no columns documented")
    assert missing == []


def test_every_macro_argument_type_is_one_dbt_accepts() -> None:
    """dbt (1.10+) warns at every parse about an argument type it cannot read (`list` without its item type,
    `boolean`): a user would see those warnings on every run of their own project."""
    from dbt.parser.schemas import is_valid_type

    invalid = []
    for project in PROJECTS:
        for name, entry in _yml_entries(project, "macros").items():
            for argument in entry.get("arguments", []) or []:  # type: ignore[attr-defined]
                kind = argument.get("type")
                if kind is not None and not is_valid_type(str(kind)):
                    invalid.append(f"{name}({argument['name']}): {kind}")
    assert invalid == []
