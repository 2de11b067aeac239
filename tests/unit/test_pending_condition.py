"""The pending rule exists once: the macro the materialization counts with (on_pending) says what the submit step
sends by (gemini_batch/batch/plan.py), word for word."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
import pytest

from gemini_batch.batch import plan

MACRO = Path(__file__).resolve().parents[2] / "macros/materializations/gemini_batch/_pending_condition.sql"


def _render(part: str) -> str:
    # Jinja does not export a macro whose name starts with _, so the template calls it itself.
    source = MACRO.read_text() + "{{ _pending_condition('@max_attempts', part) }}"
    return jinja2.Environment(autoescape=False).from_string(source).render(part=part)  # noqa: S701 - SQL, not HTML


def _words(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


@pytest.mark.parametrize(
    ("part", "python"),
    [
        ("never_answered", plan.NEVER_ANSWERED_CONDITION),
        ("retry", plan.RETRY_CONDITION),
        ("exhausted", plan.EXHAUSTED_CONDITION),
        ("pending", plan.PENDING_CONDITION),
    ],
)
def test_macro_and_submit_step_share_one_condition(part: str, python: str) -> None:
    assert _words(_render(part)) == _words(python)


def test_a_null_status_is_pending() -> None:
    # a FAILED job leaves its requests with a NULL status: they must be counted and sent again
    assert "responses.status is null" in plan.PENDING_CONDITION
