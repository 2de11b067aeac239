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


def test_a_bare_string_system_instruction_is_refused_like_vertex() -> None:
    # the SDKs wrap a string in a Content; the API's proto JSON does not, so a request table built by hand fails there
    with pytest.raises(BadRequest, match=r"Invalid value at 'system_instruction' \(type.googleapis.com/google.cloud"):
        check_request({"contents": [USER], "systemInstruction": "Be brief."})
    checked = check_request({"contents": [USER], "systemInstruction": {"parts": [{"text": "Be brief."}]}})
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
        (
            {"contents": [{"role": "user", "parts": [{"txt": "x"}]}]},
            """Invalid JSON payload received. Unknown name "txt" at 'contents[0].parts[0]': Cannot find field.""",
        ),
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


UNKNOWN = "Invalid JSON payload received. Unknown name"


@pytest.mark.parametrize(
    ("request_value", "message"),
    [
        (
            {"contents": [USER], "generationConfig": {"temprature": 0.2}},
            f"""{UNKNOWN} "temprature" at 'generation_config': Cannot find field.""",
        ),
        ({"contents": [USER], "temprature": 0.2}, f'{UNKNOWN} "temprature": Cannot find field.'),
        (
            {"contents": [USER], "generation_config": {"thinking_config": {"thinking_budgt": 0}}},
            f"""{UNKNOWN} "thinking_budgt" at 'generation_config.thinking_config': Cannot find field.""",
        ),
        (
            {"contents": [USER], "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "treshold": "OFF"}]},
            f"""{UNKNOWN} "treshold" at 'safety_settings[0]': Cannot find field.""",
        ),
        (
            {
                "contents": [USER],
                "generationConfig": {
                    "responseMimeType": "application/json",
                    "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING", "titel": "A"}}},
                },
            },
            f"""{UNKNOWN} "titel" at 'generation_config.response_schema.properties[0].value': Cannot find field.""",
        ),
        (
            {"contents": [USER], "tools": [{"functionDeclarations": [{"name": "f", "descripton": "x"}]}]},
            f"""{UNKNOWN} "descripton" at 'tools[0].function_declarations[0]': Cannot find field.""",
        ),
        (
            {"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png", "uri": "gs://b/a"}}]}]},
            f"""{UNKNOWN} "uri" at 'contents[0].parts[0].file_data': Cannot find field.""",
        ),
        (
            {"contents": [USER], "system_instruction": {"parts": [{"text": "x"}], "rol": "system"}},
            f"""{UNKNOWN} "rol" at 'system_instruction': Cannot find field.""",
        ),
        ({"contents": [USER], "generationconfig": {}}, f'{UNKNOWN} "generationconfig": Cannot find field.'),
        ({"contents": [{"role": "user", "parts": [{"text": ""}]}]}, "empty text parameter"),
        (
            {
                "contents": [
                    {
                        "role": "user",
                        "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "https://x.io/a.png"}}],
                    }
                ]
            },
            "Unsupported file uri: https://x.io/a.png",
        ),
        (
            {
                "contents": [
                    {"role": "user", "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "file:///a.png"}}]}
                ]
            },
            "Unsupported file uri: file:///a.png",
        ),
        ({"contents": [USER], "labels": {"Team": "data"}}, "Invalid label key 'Team'"),
        ({"contents": [USER], "labels": {"team": "Data Eng"}}, "Invalid label value 'Data Eng'"),
        ({"contents": [USER], "labels": {"team": "x" * 64}}, "Invalid label value"),
        ({"contents": [USER], "labels": {f"k{i}": "v" for i in range(65)}}, "at most 64 labels"),
    ],
)
def test_vertex_refuses_unknown_fields_bad_uris_and_labels(request_value: Any, message: str) -> None:
    with pytest.raises(BadRequest) as err:
        check_request(request_value)
    assert message in str(err.value)


def test_every_unknown_name_is_reported_one_per_line() -> None:
    with pytest.raises(BadRequest) as err:
        check_request({"contents": [USER], "generationConfig": {"temprature": 1, "top_q": 1}, "extra": 1})
    assert str(err.value).splitlines() == [
        f"""{UNKNOWN} "temprature" at 'generation_config': Cannot find field.""",
        f"""{UNKNOWN} "top_q" at 'generation_config': Cannot find field.""",
        f'{UNKNOWN} "extra": Cannot find field.',
    ]


def test_real_fields_in_either_spelling_and_allowed_uris_and_labels_pass() -> None:
    request = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Describe both."},
                    {"file_data": {"mime_type": "image/png", "file_uri": "gs://bucket/a.png"}},
                    {"fileData": {"mimeType": "video/mp4", "fileUri": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"}},
                    {"fileData": {"mimeType": "video/mp4", "fileUri": "https://youtu.be/dQw4w9WgXcQ"}},
                ],
            }
        ],
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "tools": [{"function_declarations": [{"name": "f", "parameters": {"type": "OBJECT", "$ref": "#/x"}}]}],
        "tool_config": {"function_calling_config": {"mode": "AUTO", "allowed_function_names": ["f"]}},
        "generationConfig": {
            "top_k": 3,
            "stopSequences": ["END"],
            "seed": 1,
            "thinkingConfig": {"thinkingLevel": "LOW"},
        },
        "labels": {"team": "data-eng", "env": "", "équipe": "données"},
    }
    checked = check_request(request)
    assert checked.body["labels"] == request["labels"]
    assert checked.body["generationConfig"]["topK"] == 3


def test_a_request_over_gemini_s_size_limit_is_a_row_error() -> None:
    from gemini_batch.emulator.request_check import MAX_REQUEST_BYTES, BadRequest, check_request

    text = "a" * (MAX_REQUEST_BYTES + 1)
    with pytest.raises(BadRequest, match="Request payload size exceeds the limit: 20971520 bytes"):
        check_request('{"contents": [{"role": "user", "parts": [{"text": "' + text + '"}]}]}')
