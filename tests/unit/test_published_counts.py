"""The materialization hands an unchanged model's count to the hook in a log line (_publish_counts); the hook takes
it once, only for its own invocation and tables, with nothing pending and the same max_attempts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gemini_batch.batch.published_counts import (
    PUBLISHED_COUNTS_PREFIX,
    discard,
    remember_published_counts,
    take_published,
)

MACRO = Path(__file__).resolve().parents[2] / "macros/materializations/gemini_batch/_report_pending.sql"


def line(**overrides: object) -> str:
    data = {"unique_id": "model.p.m", "requests_table": "p.d.m__requests", "responses_table": "p.d.m__responses",
            "invocation_id": "inv-1",
            "max_attempts": 3, "rows": 12, "hashes": 10, "pending": 0, "given_up": 1, **overrides}  # fmt: skip
    return PUBLISHED_COUNTS_PREFIX + json.dumps(data)


def test_the_macro_writes_the_prefix_the_hook_reads() -> None:
    prefix = re.search(r"macro _published_counts_prefix\(\) %}\s*\{\{- return\('([^']*)'\)", MACRO.read_text())
    assert prefix is not None and prefix.group(1) == PUBLISHED_COUNTS_PREFIX


def test_a_count_is_taken_once_by_its_own_invocation_and_tables() -> None:
    assert remember_published_counts(line())
    assert take_published("model.p.other", "inv-1", "p.d.m__requests", "p.d.m__responses", 3) is None
    assert take_published("model.p.m", "inv-2", "p.d.m__requests", "p.d.m__responses", 3) is None  # another run
    remember_published_counts(line())
    assert take_published("model.p.m", "inv-1", "p.d.other__requests", "p.d.m__responses", 3) is None
    remember_published_counts(line())
    counts = take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 3)
    assert counts is not None and (counts.rows, counts.hashes, counts.pending, counts.exhausted) == (12, 10, 0, 1)
    assert take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 3) is None  # once


def test_a_count_is_dropped_when_dbt_builds_the_node_again() -> None:
    """A model built again in a later phase of the same run: the count of its first build is stale."""
    remember_published_counts(line())
    discard("model.p.m")
    assert take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 3) is None


def test_a_count_with_pending_requests_but_no_ledger_mark_or_another_max_attempts_is_not_used() -> None:
    remember_published_counts(line(pending=4, new=3, retry=1))
    assert take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 3) is None
    remember_published_counts(line(pending=4, new=3, retry=1, ledger_mark=None))
    assert take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 3) is None
    remember_published_counts(line())
    assert take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 5) is None


def test_a_count_with_pending_requests_comes_with_its_ledger_mark_and_the_guards_split() -> None:
    """Handed over with the ledger's mark taken before the states were read: the hook compares it with the ledger's
    mark under its lease (plan.count_requests); answered is what is neither new, nor due a retry, nor given up."""
    remember_published_counts(line(pending=4, new=3, retry=1, ledger_mark=[7, 1765000000123456]))
    counts = take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 3)
    assert counts is not None and counts.ledger_mark == (7, 1765000000123456)
    assert (counts.pending, counts.new, counts.retries_due, counts.exhausted, counts.answered) == (4, 3, 1, 1, 5)


def test_a_count_with_nothing_pending_carries_no_mark() -> None:
    remember_published_counts(line(new=0, retry=0, ledger_mark=None))
    counts = take_published("model.p.m", "inv-1", "p.d.m__requests", "p.d.m__responses", 3)
    assert counts is not None and counts.ledger_mark is None and counts.answered is None


def test_other_and_malformed_lines_are_ignored() -> None:
    assert not remember_published_counts("Running some_macro: 1")
    assert not remember_published_counts(PUBLISHED_COUNTS_PREFIX + "{not json")
    assert not remember_published_counts(PUBLISHED_COUNTS_PREFIX + json.dumps({"rows": 1}))
