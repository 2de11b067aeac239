"""The output tokens a request implies before its model has answered anything (spend/output_bound.py)."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_batch.spend.output_bound import (
    DEFAULT_MAX_OUTPUT_TOKENS,
    MAX_THINKING_BUDGET,
    request_output_tokens,
    schema_tokens,
)

# The demo's review_insights answer as request() derives it from output_schema.
REVIEW_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "sentiment": {"type": "STRING", "enum": ["positive", "neutral", "negative", "mixed"]},
        "topics": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["price", "quality", "delivery", "service"]}},
        "summary": {"type": "STRING", "description": "One sentence, at most 25 words."},
    },
}


def body(**config: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": "a review"}]}], "generationConfig": config}


def test_a_structured_answer_is_bounded_by_its_schema_not_by_the_ceiling() -> None:
    figures, basis = request_output_tokens(
        body(responseMimeType="application/json", responseSchema=REVIEW_SCHEMA), 300, None
    )
    assert basis == "output_schema"
    assert figures.ceiling == DEFAULT_MAX_OUTPUT_TOKENS
    # three enum'd fields and a 25-word sentence: tens of tokens, not thousands
    assert 20 < figures.likely < 80
    assert 0 < figures.low < figures.likely
    assert figures.thinking_likely == 0  # no typical thinking: a model that does not think by default


def test_enums_numbers_and_booleans_are_small_and_a_free_string_larger() -> None:
    small = {"type": "object", "properties": {"ok": {"type": "boolean"}, "score": {"type": "number"}}}
    label = {"type": "string", "enum": ["yes", "no"]}
    free = {"type": "string"}
    assert schema_tokens(small)[1] < schema_tokens(free)[1] + 12
    assert schema_tokens(label) == (2, 2)
    assert (
        schema_tokens({"type": "array", "items": free, "maxItems": 1})[1]
        < schema_tokens({"type": "array", "items": free})[1]
    )


def test_a_text_answer_takes_the_models_typical_length_capped_by_max_output_tokens() -> None:
    figures, basis = request_output_tokens(body(), 300, None)
    assert basis == "typical text answer"
    assert (figures.low, figures.likely, figures.ceiling) == (75, 300, DEFAULT_MAX_OUTPUT_TOKENS)
    capped, _ = request_output_tokens(body(maxOutputTokens=100), 300, None)
    assert (capped.likely, capped.ceiling) == (100, 100)


@pytest.mark.parametrize(
    ("thinking", "expected"),
    [
        (None, 400),  # no budget: the model's default thinking
        ({"thinkingBudget": -1}, 400),  # dynamic: the same
        ({"thinkingBudget": 0}, 0),  # thinking off
        ({"thinkingBudget": 128}, 128),  # a budget below the typical amount caps it
        ({"thinking_budget": 4096}, 400),  # snake_case as Vertex's JSON reader accepts it
    ],
)
def test_thinking_follows_the_budget(thinking: dict[str, int] | None, expected: int) -> None:
    config: dict[str, Any] = {"thinkingConfig": thinking} if thinking is not None else {}
    figures, _ = request_output_tokens(body(**config), 300, 400)
    assert figures.thinking_likely == expected
    assert figures.thinking_low <= figures.thinking_likely


def test_the_ceiling_counts_thinking_on_top_of_max_output_tokens() -> None:
    figures, _ = request_output_tokens(body(maxOutputTokens=500, thinkingConfig={"thinkingBudget": 1024}), 300, 400)
    assert (figures.likely, figures.thinking_likely) == (300, 400)
    assert (figures.ceiling, figures.thinking_ceiling) == (500, 1024)
    dynamic, _ = request_output_tokens(body(maxOutputTokens=500), 300, 400)
    assert dynamic.thinking_ceiling == MAX_THINKING_BUDGET
    not_thinking, _ = request_output_tokens(body(maxOutputTokens=500), 300, None)
    assert not_thinking.thinking_ceiling == 0
