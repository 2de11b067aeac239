"""Which statements make the local BigQuery read a table's schema again (local/bqemulator_alter_columns.py)."""

from __future__ import annotations

import pytest

from gemini_batch.local.bqemulator_alter_columns import altered_table


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("alter table `p.d.t` add column if not exists judged_at timestamp", ("p", "d", "t")),
        ("ALTER TABLE d.t ADD COLUMN a INT64, ADD COLUMN b STRING", ("local", "d", "t")),
        ("alter table `p.d.t` drop column b", ("p", "d", "t")),
        ("alter table `p.d.t` rename column a to b", ("p", "d", "t")),
        ("alter table `p.d.t` set options(expiration_timestamp=null)", None),
        ("alter view `p.d.v` set options(description='x')", None),
        ("select 1", None),
        ("create table `p.d.t` (a string)", None),
        ("not sql at all (", None),
    ],
)
def test_only_alter_table_statements_that_change_columns(sql: str, expected: tuple[str, str, str] | None) -> None:
    assert altered_table(sql, "local") == expected
