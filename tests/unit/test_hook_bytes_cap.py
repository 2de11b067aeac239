"""The hook's own maximum_bytes_billed (query_config.hook_bytes_cap) and the sentence a job over it ends with."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as gexc

from gemini_batch.friendly_errors import explain
from gemini_batch.query_config import MAXIMUM_BYTES_BILLED_ENV, hook_bytes_cap


def test_the_profile_cap_applies_unless_the_hook_has_its_own() -> None:
    assert hook_bytes_cap(10_000_000, {}) == 10_000_000
    assert hook_bytes_cap(None, {}) is None
    assert hook_bytes_cap(10_000_000, {MAXIMUM_BYTES_BILLED_ENV: "50_000_000_000"}) == 50_000_000_000
    assert hook_bytes_cap(None, {MAXIMUM_BYTES_BILLED_ENV: "20000000000"}) == 20_000_000_000
    for off in ("none", "NONE", "off", "0"):
        assert hook_bytes_cap(10_000_000, {MAXIMUM_BYTES_BILLED_ENV: off}) is None


@pytest.mark.parametrize("bad", ["20GB", "-1", "1.5"])
def test_a_cap_that_is_not_a_number_of_bytes_is_refused_naming_the_variable(bad: str) -> None:
    with pytest.raises(ValueError, match=rf"{MAXIMUM_BYTES_BILLED_ENV}='{bad}' is not a number of bytes"):
        hook_bytes_cap(None, {MAXIMUM_BYTES_BILLED_ENV: bad})


def test_a_job_over_the_cap_ends_with_one_sentence_naming_both_caps() -> None:
    error = gexc.BadRequest("Query exceeded limit for bytes billed: 10485760. 20971520 or higher required.")
    sentence = explain(error)
    assert sentence is not None
    assert "maximum_bytes_billed" in sentence and MAXIMUM_BYTES_BILLED_ENV in sentence
    assert "20971520 or higher required" in sentence
    assert explain(gexc.BadRequest("Syntax error: Unexpected keyword")) is None
