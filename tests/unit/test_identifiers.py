"""Identifiers that reach SQL: BigQuery's naming rules, checked before any statement."""

from __future__ import annotations

import pytest

from gemini_batch.identifiers import IdentifierError, check_table_id, quoted


@pytest.mark.parametrize(
    "table_id",
    ["my-project-123.analytics.gemini_batch_jobs", "example.com:my-proj.ds_1.t-2", "local-project.D_s.m__responses"],
)
def test_valid_ids_pass_unchanged(table_id: str) -> None:
    assert check_table_id(table_id, "x") == table_id
    assert quoted(table_id, "x") == f"`{table_id}`"


@pytest.mark.parametrize(
    ("table_id", "problem"),
    [
        ("p-123456.led`ger.t", "dataset 'led`ger'"),
        ("p-123456.my ledger.t", "dataset 'my ledger'"),
        ("p-123456.ledger-ds.t", "dataset 'ledger-ds'"),
        ("P_Upper.ds.t", "project 'P_Upper'"),
        ("p-123456.ds.t`; drop", "table name 't`; drop'"),
        ("ds.t", "must be project.dataset.table"),
    ],
)
def test_bad_ids_are_refused_naming_the_part(table_id: str, problem: str) -> None:
    with pytest.raises(IdentifierError, match="the ledger") as info:
        check_table_id(table_id, "the ledger")
    assert problem in str(info.value)
