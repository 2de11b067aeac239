"""One version everywhere: the Python package, the dbt package, the code's __version__ and the newest release of the
changelog (CHANGELOG.md says a release bumps all four at once)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

import gemini_batch

REPO = Path(__file__).resolve().parents[2]


def changelog_releases() -> list[str]:
    return re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", (REPO / "CHANGELOG.md").read_text(), re.M)


def test_the_version_is_the_same_in_every_place_it_is_written() -> None:
    python_package = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    dbt_package = str(yaml.safe_load((REPO / "dbt_project.yml").read_text())["version"])
    assert python_package == dbt_package == gemini_batch.__version__ == changelog_releases()[0]


def test_the_changelog_keeps_an_unreleased_section_above_releases_newest_first() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    assert text.index("## [Unreleased]") < text.index(f"## [{changelog_releases()[0]}]")
    versions = [tuple(int(n) for n in v.split(".")) for v in changelog_releases()]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)
