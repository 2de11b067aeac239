"""Split the nodes to build again after a run's jobs are merged into phases at each batch boundary, so that waiting
for Vertex never holds a dbt thread. (A run with nothing to wait for is one dbt invocation: runner.py.)

Why phases and not a wait inside dbt's callback: dbt runs a node's dependants only after the callbacks of its
NodeFinished event return, so a callback that waits holds one of dbt's threads for hours; with `threads: 1`, six
independent gemini_batch models would wait one after the other. Instead, phase k is the set of selected nodes whose
longest upstream path crosses k gemini_batch models. Within a phase, dbt's callback only submits; after the phase's
dbt invocation the runner waits for all its jobs together and merges each as it ends; then the next phase runs. So
independent batch models share one wait (wall time about the longest job), a batch model downstream of another is in a
later phase (chains work), and `build` runs the tests of a batch model after its answers are merged.

The user's selection (--select/--exclude/--selector/--resource-type) is what the first dbt invocation ran (its run
results); each phase then runs with the user's other flags and `--select` of the phase's nodes by fqn,
`--indirect-selection empty` (tests are selected explicitly, in the phase after the batch model they test). A node
downstream of a node that failed in the first invocation or an earlier phase is not run, as dbt itself skips
dependants of a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gemini_batch.dbt_project import MATERIALIZATION

# dbt flags that choose nodes: consumed by the `dbt ls` that resolves the selection, replaced in each phase.
MULTI_VALUE_SELECTION = {
    "--select", "-s", "--models", "-m", "--exclude", "--resource-type", "--resource-types",
    "--exclude-resource-type", "--exclude-resource-types",
}  # fmt: skip
SINGLE_VALUE_SELECTION = {"--selector", "--indirect-selection"}
# Flags `dbt ls` needs as well to see the same project.
PROJECT_FLAGS = {"--project-dir", "--profiles-dir", "--target", "-t", "--profile", "--vars", "--target-path", "--state"}
# Resource types each command executes (dbt ls lists sources, exposures... too).
EXECUTED = {
    "run": ("model.",),
    "build": ("model.", "seed.", "snapshot.", "test.", "unit_test."),
}


def split_args(args: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """(selection flags, project flags, everything else) of a dbt argument list without its command."""
    selection: list[str] = []
    project: list[str] = []
    rest: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        name, eq, _ = arg.partition("=")
        if name in MULTI_VALUE_SELECTION or name in SINGLE_VALUE_SELECTION or name in PROJECT_FLAGS:
            target = selection if name not in PROJECT_FLAGS else project
            target.append(arg)
            i += 1
            if not eq:
                many = name in MULTI_VALUE_SELECTION
                while i < len(items) and not items[i].startswith("-"):
                    target.append(items[i])
                    i += 1
                    if not many:
                        break
            continue
        rest.append(arg)
        i += 1
    return selection, project, rest


@dataclass
class Graph:
    """The manifest's nodes: parents, fqn and whether each is a gemini_batch model."""

    parents: dict[str, list[str]]
    fqn: dict[str, list[str]]
    batch: set[str]
    phase: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, manifest_path: Path) -> Graph:
        data = json.loads(manifest_path.read_text())
        nodes: dict[str, Any] = {**data.get("nodes", {}), **data.get("unit_tests", {})}
        parents = {uid: list((n.get("depends_on") or {}).get("nodes") or []) for uid, n in nodes.items()}
        fqn = {uid: list(n.get("fqn") or []) for uid, n in nodes.items()}
        batch = {uid for uid, n in nodes.items() if (n.get("config") or {}).get("materialized") == MATERIALIZATION}
        graph = cls(parents, fqn, batch)
        graph.compute_phases()
        return graph

    def compute_phases(self) -> None:
        """phase(n) = max over parents p of phase(p) + (1 if p is a gemini_batch model); sources and the like are 0."""
        state: dict[str, int] = {}

        def visit(uid: str) -> int:
            if uid in self.phase:
                return self.phase[uid]
            if state.get(uid) == 1:  # a cycle cannot reach here from a valid manifest; stay finite anyway
                return 0
            state[uid] = 1
            best = 0
            for parent in self.parents.get(uid, []):
                if parent in self.parents:
                    best = max(best, visit(parent) + (1 if parent in self.batch else 0))
            self.phase[uid] = best
            return best

        for uid in self.parents:
            visit(uid)

    def descendants(self, roots: Iterable[str]) -> set[str]:
        children: dict[str, list[str]] = {}
        for uid, parents in self.parents.items():
            for parent in parents:
                children.setdefault(parent, []).append(uid)
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    def ancestors(self, uid: str) -> set[str]:
        seen: set[str] = set()
        todo = [uid]
        while todo:
            for parent in self.parents.get(todo.pop(), []):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    def selector(self, uid: str) -> str:
        return "fqn:" + ".".join(self.fqn[uid])


def phases_of(graph: Graph, selected: Iterable[str]) -> list[list[str]]:
    """The selected nodes grouped by phase, phase 0 first (empty phases left out)."""
    by_phase: dict[int, list[str]] = {}
    for uid in selected:
        if uid in graph.phase:
            by_phase.setdefault(graph.phase[uid], []).append(uid)
    return [sorted(by_phase[k]) for k in sorted(by_phase)]
