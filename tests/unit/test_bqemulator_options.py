"""The local stack's fix for bqemulator's ALTER TABLE SET OPTIONS: the option list ends at its matching parenthesis."""

from __future__ import annotations

import pytest

from gemini_batch.local.bqemulator_options import _matching_paren


@pytest.mark.parametrize(
    ("options", "expected_end"),
    [
        ("(expiration_timestamp=NULL)", "NULL)"),
        (
            "(labels=[('team', 'ml')], expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 6 hour))",
            "hour))",
        ),
        ('(description="""a (quoted) ) paren""", kms_key_name=\'k\')', "'k')"),
        ("(description='it\\'s (x')", "x')"),
    ],
)
def test_the_option_list_ends_at_its_matching_parenthesis(options: str, expected_end: str) -> None:
    sql = f"alter table `p`.`d`.`t` set OPTIONS {options}  "
    start = sql.index("OPTIONS") + len("OPTIONS")
    close = _matching_paren(sql, start)
    assert close is not None
    assert sql[: close + 1].endswith(expected_end)
    assert sql[close + 1 :].strip() == ""


def test_an_unclosed_list_is_not_matched() -> None:
    assert _matching_paren("set OPTIONS (labels=[('a', 'b')]", 11) is None
