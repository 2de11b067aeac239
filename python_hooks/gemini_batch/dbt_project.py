"""What the hook needs to know about the user's dbt project: its flags, its profile's credentials, its manifest.

Both ways of running share this: the dbtRunner callback (`dbt-gemini-batch run|build`) and the scheduler commands
(`submit|status|collect|cancel` after a plain `dbt run`), which read target/manifest.json.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MATERIALIZATION = "gemini_batch"
LEDGER_SOURCE_ID = "source.gemini_batch.gemini_batch.gemini_batch_jobs"
LEDGER_TABLE = "gemini_batch_jobs"


class ProjectError(RuntimeError):
    """The dbt project, profile or manifest cannot be used; the message says what to do."""


@dataclass(frozen=True)
class DbtFlags:
    """The few dbt CLI flags the hook must honour, taken from the same argument list dbt receives."""

    project_dir: Path
    profiles_dir: Path | None = None
    target: str | None = None
    profile: str | None = None
    target_path: str = "target"
    vars: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, args: Sequence[str], env: dict[str, str] | None = None) -> DbtFlags:
        env = dict(os.environ) if env is None else env
        found = _scan_flags(args, ["--project-dir", "--profiles-dir", "--target", "-t", "--profile", "--target-path"])
        project_dir = Path(found.get("--project-dir") or env.get("DBT_PROJECT_DIR") or ".").resolve()
        profiles_dir = found.get("--profiles-dir") or env.get("DBT_PROFILES_DIR")
        if profiles_dir is None and (Path.cwd() / "profiles.yml").exists():
            profiles_dir = str(Path.cwd())  # dbt's own default: the working directory first, then ~/.dbt
        raw_vars = _scan_flags(args, ["--vars"]).get("--vars")
        return cls(
            project_dir=project_dir,
            profiles_dir=Path(profiles_dir).resolve() if profiles_dir else None,
            target=found.get("--target") or found.get("-t") or env.get("DBT_TARGET"),
            profile=found.get("--profile") or env.get("DBT_PROFILE"),
            target_path=found.get("--target-path") or env.get("DBT_TARGET_PATH") or "target",
            vars=_parse_vars(raw_vars),
        )

    def dbt_args(self) -> list[str]:
        """The same flags as dbt arguments (for the dbt commands the scheduler path runs itself)."""
        args = ["--project-dir", str(self.project_dir)]
        if self.profiles_dir:
            args += ["--profiles-dir", str(self.profiles_dir)]
        if self.target:
            args += ["--target", self.target]
        if self.profile:
            args += ["--profile", self.profile]
        if self.vars:
            args += ["--vars", json.dumps(self.vars)]
        args += ["--target-path", self.target_path]
        return args

    @property
    def manifest_path(self) -> Path:
        return self._target_dir / "manifest.json"

    @property
    def run_results_path(self) -> Path:
        return self._target_dir / "run_results.json"

    @property
    def _target_dir(self) -> Path:
        path = Path(self.target_path)
        return path if path.is_absolute() else self.project_dir / path


def _scan_flags(args: Sequence[str], names: Iterable[str]) -> dict[str, str]:
    wanted = set(names)
    found: dict[str, str] = {}
    items = list(args)
    for i, arg in enumerate(items):
        name, eq, value = arg.partition("=")
        if name in wanted:
            if eq:
                found[name] = value
            elif i + 1 < len(items):
                found[name] = items[i + 1]
    return found


def _parse_vars(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    import yaml  # dbt's --vars is YAML (JSON is a subset)

    parsed = yaml.safe_load(raw)
    if not isinstance(parsed, dict):
        raise ProjectError(f"--vars must be a YAML dictionary, got: {raw!r}")
    return parsed


def load_credentials(flags: DbtFlags) -> Any:
    """The target's BigQueryCredentials, rendered by dbt itself (env_var(), --target, --profiles-dir, --vars)."""
    from argparse import Namespace

    from dbt.config.runtime import load_profile
    from dbt.flags import get_flags, set_flags, set_from_args
    from dbt_common.context import reliably_get_invocation_var, set_invocation_context

    profiles_dir = str(flags.profiles_dir) if flags.profiles_dir else str(Path.home() / ".dbt")
    # load_profile reads dbt's global flags, but inside a running `dbt-gemini-batch run|build` those flags belong to the
    # dbt invocation in progress (with its project's behaviour flags): replacing them for good would make dbt fail
    # later in the same run (e.g. a package model ref()ing another: "Flags has no attribute
    # require_ref_searches_node_package_before_root"). So set them only for the profile load, then put them back.
    previous_flags = get_flags()
    previous_context = reliably_get_invocation_var().get(None)
    set_invocation_context(dict(os.environ))
    set_from_args(Namespace(profiles_dir=profiles_dir), None)
    try:
        profile = load_profile(str(flags.project_dir), flags.vars, flags.profile, flags.target)
    except Exception as exc:  # dbt raises several error types here; all mean "fix your profile"
        raise ProjectError(f"cannot load the dbt profile (profiles dir {profiles_dir}): {exc}") from exc
    finally:
        set_flags(previous_flags)
        if previous_context is not None:
            reliably_get_invocation_var().set(previous_context)
    if profile.credentials.type != "bigquery":
        raise ProjectError(f"dbt-gemini-batch needs a BigQuery target, this one is {profile.credentials.type!r}")
    return profile.credentials


@dataclass(frozen=True)
class BatchNode:
    """A model materialized as gemini_batch, and the relations that stand behind it."""

    unique_id: str
    name: str
    database: str
    schema: str
    alias: str
    config: dict[str, Any] = field(default_factory=dict)

    def table(self, suffix: str) -> str:
        return f"{self.database}.{self.schema}.{self.alias}{suffix}"

    @property
    def requests_table(self) -> str:
        return self.table("__requests")

    @property
    def responses_table(self) -> str:
        return self.table("__responses")

    @property
    def collected_table(self) -> str:
        """A job's output rows while the hook writes them (macros/.../_create_collect_relations.sql)."""
        return self.table("__collected")

    @property
    def judged_view(self) -> str:
        """m__collected with each answer's output_state, rendered by the materialization from the output schema."""
        return self.table("__collected_judged")

    @property
    def view(self) -> str:
        """The model's own relation: requests joined to answers, with output_state (the materialization's view)."""
        return self.table("")

    @property
    def dataset(self) -> str:
        return f"{self.database}.{self.schema}"


@dataclass(frozen=True)
class Manifest:
    nodes: dict[str, BatchNode]
    ledger_table: str | None  # project.dataset.table from the package's ledger source, when the manifest has it

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            raise ProjectError(f"{path} not found: run `dbt run` (or `dbt parse`) in the project first")
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        nodes = {}
        for uid, node in data.get("nodes", {}).items():
            if node.get("resource_type") == "model" and node.get("config", {}).get("materialized") == MATERIALIZATION:
                nodes[uid] = BatchNode(
                    unique_id=uid,
                    name=node["name"],
                    database=node["database"],
                    schema=node["schema"],
                    alias=node.get("alias") or node["name"],
                    config=dict(node.get("config", {})),
                )
        source = data.get("sources", {}).get(LEDGER_SOURCE_ID)
        ledger = None
        if source:
            ledger = f"{source['database']}.{source['schema']}.{source.get('identifier') or LEDGER_TABLE}"
        return cls(nodes=nodes, ledger_table=ledger)

    def select(self, names: Sequence[str]) -> list[BatchNode]:
        """Nodes by model name or unique id; all of them when no name is given."""
        if not names:
            return sorted(self.nodes.values(), key=lambda n: n.unique_id)
        chosen = []
        for name in names:
            match = [n for n in self.nodes.values() if name in (n.name, n.unique_id)]
            if not match:
                known = ", ".join(sorted(n.name for n in self.nodes.values())) or "none"
                raise ProjectError(
                    f"no gemini_batch model named {name!r} in the manifest (gemini_batch models: {known})"
                )
            chosen.extend(match)
        return chosen


# Characters that make a --select value dbt selector syntax (tag:x, m+, +m, path/*, @m, a,b) rather than a model name.
_SELECTOR_CHARS = set("+:*@,/")


def select_nodes(flags: DbtFlags, manifest: Manifest, selects: Sequence[str]) -> list[BatchNode]:
    """gemini_batch models picked by --select: plain model names directly, dbt selector syntax through `dbt ls`."""
    if not any(ch in value for value in selects for ch in _SELECTOR_CHARS):
        return manifest.select(selects)
    from dbt.cli.main import dbtRunner

    # --log-level none: dbt ls would print every selected node; we only want its result
    args = ["--log-level", "none", "ls", "--resource-type", "model", "--output", "json", "--output-keys", "unique_id"]
    result = dbtRunner().invoke([*args, "--select", *selects, *flags.dbt_args()])
    if not result.success:
        raise ProjectError(f"dbt ls --select {' '.join(selects)} failed: {result.exception or 'see the dbt output'}")
    lines = result.result if isinstance(result.result, list) else []  # `ls` returns its output lines
    chosen = {json.loads(line)["unique_id"] for line in lines}
    return [node for uid, node in sorted(manifest.nodes.items()) if uid in chosen]


def failed_nodes(run_results_path: Path) -> set[str]:
    """Unique ids whose last dbt run errored: their m__requests may be stale, so the scheduler path skips them."""
    if not run_results_path.exists():
        return set()
    results = json.loads(run_results_path.read_text()).get("results", [])
    return {r["unique_id"] for r in results if r.get("status") in {"error", "fail", "skipped"}}
