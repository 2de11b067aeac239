"""Phases at batch boundaries (gemini_batch.phases): pure functions over a manifest's graph."""

from __future__ import annotations

from gemini_batch.phases import Graph, phases_of, split_args


def _graph() -> Graph:
    #  seed -> stg -> a (batch) -> parsed -> b (batch) -> mart ; test_a tests a ; c (batch) independent of a
    parents = {
        "seed.p.s": [],
        "model.p.stg": ["seed.p.s", "source.p.raw.x"],
        "model.p.a": ["model.p.stg"],
        "model.p.c": ["model.p.stg"],
        "test.p.test_a": ["model.p.a"],
        "model.p.parsed": ["model.p.a"],
        "model.p.b": ["model.p.parsed"],
        "model.p.mart": ["model.p.b", "model.p.stg"],
    }
    graph = Graph(parents, {u: ["p", u.rsplit(".", 1)[-1]] for u in parents}, {"model.p.a", "model.p.b", "model.p.c"})
    graph.compute_phases()
    return graph


def test_phase_counts_the_batch_models_on_the_longest_upstream_path() -> None:
    graph = _graph()
    assert phases_of(graph, graph.parents) == [
        ["model.p.a", "model.p.c", "model.p.stg", "seed.p.s"],  # independent batch models share phase 0
        ["model.p.b", "model.p.parsed", "test.p.test_a"],  # a's test runs after a's answers are merged
        ["model.p.mart"],
    ]


def test_descendants_of_a_failure_are_not_run() -> None:
    assert _graph().descendants(["model.p.a"]) == {"test.p.test_a", "model.p.parsed", "model.p.b", "model.p.mart"}


def test_split_args_keeps_selection_apart_from_the_other_flags() -> None:
    selection, project, rest = split_args(
        ["-s", "a+", "tag:x", "--exclude", "b", "--threads", "1", "--target=dev", "--full-refresh", "--selector", "n"]
    )
    assert selection == ["-s", "a+", "tag:x", "--exclude", "b", "--selector", "n"]
    assert project == ["--target=dev"]
    assert rest == ["--threads", "1", "--full-refresh"]
