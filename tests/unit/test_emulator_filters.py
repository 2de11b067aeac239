"""The list filter grammar (AIP-160 as Vertex documents it for batchPredictionJobs.list)."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_batch.emulator.filters import FilterError, compile_filter

JOBS: list[dict[str, Any]] = [
    {
        "displayName": "daily-reviews",
        "state": "JOB_STATE_SUCCEEDED",
        "createTime": "2024-05-01T10:00:00.000000Z",
        "labels": {"team": "data", "env": "prod"},
        "model": "publishers/google/models/gemini-2.5-flash",
    },
    {
        "displayName": "daily-tickets",
        "state": "JOB_STATE_FAILED",
        "createTime": "2024-05-02T10:00:00.000000Z",
        "labels": {"team": "support"},
        "model": "publishers/google/models/gemini-2.5-pro",
    },
    {"displayName": "adhoc", "state": "JOB_STATE_RUNNING", "createTime": "2024-05-03T10:00:00.000000Z"},
]


def names(text: str) -> list[str]:
    predicate = compile_filter(text)
    return [job["displayName"] for job in JOBS if predicate(job)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["daily-reviews", "daily-tickets", "adhoc"]),
        ('display_name="adhoc"', ["adhoc"]),
        ("displayName=adhoc", ["adhoc"]),
        ('display_name!="adhoc"', ["daily-reviews", "daily-tickets"]),
        ('display_name:"daily-*"', ["daily-reviews", "daily-tickets"]),
        ('display_name:"*-t*s"', ["daily-tickets"]),
        ('display_name:"daily"', []),  # ':' without '*' is an exact match, not a substring search
        ("state=JOB_STATE_FAILED", ["daily-tickets"]),
        ("state=FAILED", ["daily-tickets"]),
        ("state=5", ["daily-tickets"]),
        ('state!="JOB_STATE_FAILED"', ["daily-reviews", "adhoc"]),
        ('create_time>"2024-05-01T12:00:00Z"', ["daily-tickets", "adhoc"]),
        ('createTime<="2024-05-02T10:00:00Z"', ["daily-reviews", "daily-tickets"]),
        ('create_time="2024-05-03T10:00:00+00:00"', ["adhoc"]),
        ("labels.team=data", ["daily-reviews"]),
        ("labels.team!=data", ["daily-tickets", "adhoc"]),
        ("labels.env:*", ["daily-reviews"]),
        ("labels:team", ["daily-reviews", "daily-tickets"]),
        ('model:"*-pro"', ["daily-tickets"]),
        ("labels.team=data OR labels.team=support", ["daily-reviews", "daily-tickets"]),
        ("NOT labels.team:*", ["adhoc"]),
        ("-labels.team:*", ["adhoc"]),
        ('state=JOB_STATE_FAILED OR display_name="adhoc"', ["daily-tickets", "adhoc"]),
        ('display_name:"daily-*" AND NOT state=JOB_STATE_FAILED', ["daily-reviews"]),
        ('display_name:"daily-*" labels.team=support', ["daily-tickets"]),  # juxtaposition is AND
        # AIP-160: OR binds tighter than AND, so this is  A AND (B OR C)
        ('labels.team=data AND state=JOB_STATE_FAILED OR display_name="daily-reviews"', ["daily-reviews"]),
        ('(labels.team=data AND state=JOB_STATE_FAILED) OR display_name="adhoc"', ["adhoc"]),
        ("NOT (state=JOB_STATE_RUNNING OR labels.team=data)", ["daily-tickets"]),
    ],
)
def test_filter_selects(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "colour=red",
        "state>JOB_STATE_FAILED",
        "state=JOB_STATE_NAPPING",
        'display_name<"a"',
        'create_time>"yesterday"',
        "display_name=",
        "(state=JOB_STATE_FAILED",
        "state=JOB_STATE_FAILED)",
        "AND state=JOB_STATE_FAILED",
        "state=JOB_STATE_FAILED OR",
        "display_name = 'a' @",
    ],
)
def test_bad_filters_raise(text: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(text)
