"""The deterministic responder: reproducible, Gemini-shaped, schema-valid, and plausible for reviews."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import jsonschema
import pytest

from gemini_batch.emulator.request_check import check_request
from gemini_batch.emulator.responders import DeterministicResponder, RowError, model_version
from gemini_batch.emulator.schema_values import make_value
from tests.openapi_schema import openapi_to_jsonschema

REVIEW = {
    "type": "OBJECT",
    "properties": {
        "sentiment": {"type": "STRING", "enum": ["POSITIVE", "NEGATIVE", "NEUTRAL"]},
        "topics": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["delivery", "quality", "price"]}},
        "stars": {"type": "INTEGER", "minimum": 1, "maximum": 5},
        "summary": {"type": "STRING", "maxLength": 40},
        "refund_requested": {"type": "BOOLEAN"},
    },
    "required": ["sentiment", "topics", "stars"],
}
SCHEMAS: list[dict[str, Any]] = [
    REVIEW,
    {"type": "STRING", "enum": ["a", "b", "c"]},
    {
        "type": "array",
        "items": {"type": "integer", "minimum": -5, "maximum": 5},
        "minItems": 2,
        "maxItems": 6,
    },
    {
        "type": "OBJECT",
        "properties": {
            "people": {
                "type": "ARRAY",
                "items": {
                    "type": "OBJECT",
                    "properties": {
                        "name": {"type": "STRING"},
                        "age": {"type": "INTEGER", "nullable": True},
                        "email": {"type": "STRING", "format": "email"},
                        "born": {"type": "STRING", "format": "date"},
                    },
                    "required": ["name"],
                },
                "maxItems": 2,
            },
            "score": {"type": "NUMBER", "minimum": 0.5, "maximum": 0.75},
            "choice": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
        },
    },
    {"type": "array", "items": {"type": "string"}, "minItems": 0, "maxItems": 0},
    {
        "type": "object",
        "properties": {"keywords": {"type": "array", "items": {"type": "string", "maxLength": 3}}},
    },
]
PROMPTS = [
    "I love this kettle, excellent build and fast delivery.",
    "The package arrived late and the lid was broken. Terrible. Refund please.",
    "It is a kettle.",
    "",
]


def ask(text: str, **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if config:
        body["generationConfig"] = config
    return DeterministicResponder().answer(check_request(body), "gemini-2.5-flash")


def text_of(response: dict[str, Any]) -> str:
    return str(response["candidates"][0]["content"]["parts"][-1]["text"])


@pytest.mark.parametrize("schema", SCHEMAS)
@pytest.mark.parametrize("prompt", PROMPTS)
def test_values_validate_against_the_schema(schema: dict[str, Any], prompt: str) -> None:
    for seed in range(5):
        value = make_value(schema, prompt, random.Random(seed))
        jsonschema.validate(value, openapi_to_jsonschema(schema))


def test_review_values_follow_the_review() -> None:
    happy = make_value(REVIEW, PROMPTS[0], random.Random(1))
    angry = make_value(REVIEW, PROMPTS[1], random.Random(1))
    assert (happy["sentiment"], angry["sentiment"]) == ("POSITIVE", "NEGATIVE")
    assert (happy["stars"], angry["stars"]) == (5, 1)
    assert angry["refund_requested"] is True and happy["refund_requested"] is False
    assert happy["topics"] == ["delivery"]
    assert angry["topics"] == ["delivery", "quality"], "most mentioned first; price is never mentioned"
    assert make_value(REVIEW, PROMPTS[2], random.Random(1))["sentiment"] == "NEUTRAL"


def test_negation_flips_a_keyword() -> None:
    schema = {"type": "STRING", "enum": ["positive", "negative"]}
    assert make_value(schema, "This was not good at all.", random.Random(0)) == "negative"


def test_same_request_same_bytes_and_other_request_other_bytes() -> None:
    config = {"responseMimeType": "application/json", "responseSchema": REVIEW}
    first = json.dumps(ask(PROMPTS[0], **config))
    assert first == json.dumps(ask(PROMPTS[0], **config))
    assert first != json.dumps(ask(PROMPTS[1], **config))
    checked = check_request({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert DeterministicResponder(seed=1).answer(checked, "gemini-2.5-flash") != DeterministicResponder(seed=2).answer(
        checked, "gemini-2.5-flash"
    )


def test_response_shape_and_token_counts() -> None:
    prompt = "Write one sentence about BigQuery batch jobs."
    response = ask(prompt)
    candidate = response["candidates"][0]
    assert candidate["content"]["role"] == "model" and candidate["finishReason"] == "STOP"
    assert {r["category"] for r in candidate["safetyRatings"]} >= {"HARM_CATEGORY_HATE_SPEECH"}
    usage = response["usageMetadata"]
    assert usage["promptTokenCount"] == math.ceil(len(prompt) / 4)
    assert usage["candidatesTokenCount"] == math.ceil(len(text_of(response)) / 4)
    assert usage["totalTokenCount"] == sum(
        usage.get(k, 0) for k in ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount")
    )
    assert usage["trafficType"] == "ON_DEMAND"
    assert response["modelVersion"] == "gemini-2.5-flash-001"
    assert response["createTime"].endswith("Z") and len(response["responseId"]) == 20


def test_max_output_tokens_truncates() -> None:
    full = ask(PROMPTS[1], responseMimeType="application/json", responseSchema=REVIEW)
    cut = ask(PROMPTS[1], responseMimeType="application/json", responseSchema=REVIEW, maxOutputTokens=4)
    assert cut["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert text_of(cut) == text_of(full)[:16]
    assert cut["usageMetadata"]["candidatesTokenCount"] == 4
    roomy = ask(PROMPTS[1], responseMimeType="application/json", responseSchema=REVIEW, maxOutputTokens=4000)
    assert roomy["candidates"][0]["finishReason"] == "STOP"
    json.loads(text_of(roomy))


def test_enum_mime_type_stop_sequences_candidates_and_thoughts() -> None:
    enum = ask(PROMPTS[1], responseMimeType="text/x.enum", responseSchema={"type": "STRING", "enum": ["good", "bad"]})
    assert text_of(enum) == "bad"
    plain = text_of(ask("Tell me about kettles."))
    stop = plain.split()[3]
    assert stop not in text_of(ask("Tell me about kettles.", stopSequences=[stop]))
    two = ask("Tell me about kettles.", candidateCount=2)
    assert [c["index"] for c in two["candidates"]] == [0, 1]
    thoughts = ask("Tell me about kettles.", thinkingConfig={"thinkingBudget": 256, "includeThoughts": True})
    parts = thoughts["candidates"][0]["content"]["parts"]
    assert parts[0]["thought"] is True and "thought" not in parts[1]
    assert 0 < thoughts["usageMetadata"]["thoughtsTokenCount"] <= 256
    lite = DeterministicResponder().answer(
        check_request({"contents": [{"parts": [{"text": "x"}]}]}), "gemini-2.5-flash-lite"
    )
    assert "thoughtsTokenCount" not in lite["usageMetadata"]


def test_media_parts_count_tokens() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "abcd"},
                    {"fileData": {"fileUri": "gs://b/i.png", "mimeType": "image/png"}},
                ],
            }
        ]
    }
    response = DeterministicResponder().answer(check_request(body), "gemini-2.5-flash")
    assert response["usageMetadata"]["promptTokenCount"] == 1 + 258


@pytest.mark.parametrize(
    ("model_id", "version"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash-001"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash-001"),
        ("gemini-2.5-pro@default", "gemini-2.5-pro-001"),
        ("gemini-3-pro-preview", "gemini-3-pro-preview"),
        ("1234", "1234"),
    ],
)
def test_model_version(model_id: str, version: str) -> None:
    assert model_version(model_id) == version


def test_row_error_status_text() -> None:
    status = RowError(400, "Please use a valid role: user, model.").status_text()
    assert status == (
        'Bad Request: {"error": {"code": 400, "message": "Please use a valid role: user, model.", '
        '"status": "INVALID_ARGUMENT"}}'
    )
    assert RowError(503, "busy").status_text().startswith('Service Unavailable: {"error": {"code": 503')
