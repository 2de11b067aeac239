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


STATES_MACRO = Path(__file__).resolve().parents[2] / "macros/materializations/gemini_batch/_create_requests_table.sql"


def test_the_pending_states_are_the_materializations_never_answered_and_retry_codes() -> None:
    """plan.PENDING_STATES selects rows by the codes _state_codes() gives the states the staged count calls pending
    (_count_staged: new + retry): a renumbering on one side only would send answered rows or skip pending ones."""
    codes = re.search(r"macro _state_codes\(\) %}\s*\{\{- return\((\{[^}]*\})\)", STATES_MACRO.read_text())
    assert codes is not None
    numbers = {k: int(v) for k, v in re.findall(r"'(\w+)': (\d+)", codes.group(1))}
    assert f"requests.{plan.STATE_COLUMN} in ({numbers['never_answered']}, {numbers['retry']})" == plan.PENDING_STATES
    assert f"requests.{plan.STATE_COLUMN} = {numbers['answered']}" == plan.SETTLED
