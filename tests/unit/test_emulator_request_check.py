"""Row requests: what Gemini accepts (camelCase or snake_case) and the messages for what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gemini_batch.emulator.request_check import BadRequest, check_request, prompt_text, request_key, user_text

USER = {"role": "user", "parts": [{"text": "Hello"}]}


def test_snake_case_and_camel_case_normalize_to_the_same_request() -> None:
    camel = {
        "contents": [USER],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "maxOutputTokens": 10,
            "responseMimeType": "application/json",
            "responseSchema": {
                "type": "OBJECT",
                "properties": {"my_field": {"type": "STRING"}},
                "propertyOrdering": ["my_field"],
            },
        },
    }
    snake = {
        "contents": [USER],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {
            "max_output_tokens": 10,
            "response_mime_type": "application/json",
            "response_schema": {
                "type": "OBJECT",
                "properties": {"my_field": {"type": "STRING"}},
                "property_ordering": ["my_field"],
            },
        },
    }
    a, b = check_request(camel), check_request(json.dumps(snake))
    assert a.body == b.body and a.key == b.key
    assert "my_field" in a.body["generationConfig"]["responseSchema"]["properties"], "property names are data"


def test_a_bare_string_system_instruction_becomes_content() -> None:
    checked = check_request({"contents": [USER], "systemInstruction": "Be brief."})
    assert prompt_text(checked.body) == "Be brief.\nHello"
    assert user_text(checked.body) == "Hello"


@pytest.mark.parametrize(
    ("request_value", "message"),
    [
        (None, "empty (NULL)"),
        ("{oops", "Invalid JSON payload received."),
        ("[1, 2]", "GenerateContentRequest object"),
        ({}, "empty contents field"),
        ({"contents": "hi"}, "contents must be a list"),
        (
            {"contents": [{"role": "system", "parts": [{"text": "x"}]}]},
            "Please use a valid role: user, model.",
        ),
        ({"contents": [{"role": "user"}]}, "at least one parts field"),
        ({"contents": [{"role": "user", "parts": [{}]}]}, "empty part"),
        ({"contents": [{"role": "user", "parts": [{"txt": "x"}]}]}, 'Unknown name "txt"'),
        ({"contents": [{"role": "user", "parts": [{"inlineData": {"data": "AA=="}}]}]}, "mime_type"),
        ({"contents": [USER], "cachedContent": "projects/p/cachedContents/1"}, "cached_content"),
        ({"contents": [USER], "generationConfig": {"topP": 0}}, "top_p"),
        ({"contents": [USER], "generationConfig": {"maxOutputTokens": 0}}, "maxOutputTokens value of 0"),
        ({"contents": [USER], "generationConfig": {"candidateCount": 9}}, "candidateCount"),
        ({"contents": [USER], "generationConfig": {"responseMimeType": "text/html"}}, "response_mime_type"),
        (
            {
                "contents": [USER],
                "generationConfig": {
                    "responseMimeType": "application/json",
                    "responseSchema": {"type": "TEXT"},
                },
            },
            "incorrect schema type",
        ),
        (
            {
                "contents": [USER],
                "generationConfig": {
                    "responseMimeType": "application/json",
                    "responseSchema": {"type": "OBJECT"},
                    "responseJsonSchema": {"type": "object"},
                },
            },
            "both set",
        ),
        (
            {"contents": [USER], "generationConfig": {"thinkingConfig": {"thinkingBudget": 99999}}},
            "thinking_budget",
        ),
    ],
)
def test_refused_requests(request_value: Any, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        check_request(request_value)
    assert message in str(err.value)


def test_request_key_is_stable_for_refused_rows_too() -> None:
    assert request_key("{oops") == request_key("{oops") != request_key("{oops!")
    assert request_key('{"a": 1, "b": 2}') == request_key({"b": 2, "a": 1})
