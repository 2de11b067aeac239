"""The OpenAI-compatible responder, against a tiny chat-completions fake on loopback."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gemini_batch.emulator.config import OpenAIConfig
from gemini_batch.emulator.openai_responder import OpenAIResponder, to_chat_request, to_json_schema
from gemini_batch.emulator.request_check import check_request
from gemini_batch.emulator.responders import RowError

SECRET = "sk-test-do-not-log-9f2"


def chat_answer(content: str = '{"sentiment": "positive"}', finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion",
        "created": 1_714_557_600,
        "model": "qwen2.5-7b-instruct",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "reasoning_content": "Thinking..."},
                "finish_reason": finish,
                "logprobs": {"content": [{"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -1.5}]},
            }
        ],
        "usage": {
            "prompt_tokens": 30,
            "completion_tokens": 12,
            "total_tokens": 42,
            "completion_tokens_details": {"reasoning_tokens": 5},
        },
    }


class FakeChatServer:
    """Records each POST /v1/chat/completions; answers with the queued (status, body) replies in turn."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.replies: list[tuple[int, dict[str, Any]]] = [(200, chat_answer())]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                status, reply = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                if self.path != "/v1/chat/completions":
                    status, reply = 404, {"error": {"message": f"no route {self.path}"}}
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def fake() -> Iterator[FakeChatServer]:
    server = FakeChatServer()
    yield server
    server.close()


SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "sentiment": {"type": "STRING", "enum": ["positive", "negative"]},
        "note": {"type": "STRING", "nullable": True},
        "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": 3},
    },
    "required": ["sentiment"],
    "propertyOrdering": ["sentiment", "note", "tags"],
}
REQUEST = {
    "systemInstruction": {"parts": [{"text": "You label reviews."}]},
    "contents": [
        {"role": "user", "parts": [{"text": "Great kettle!"}]},
        {"role": "model", "parts": [{"text": "positive"}]},
        {"role": "user", "parts": [{"text": "And this: broken lid."}]},
    ],
    "generationConfig": {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "seed": 7,
        "responseMimeType": "application/json",
        "responseSchema": SCHEMA,
        "thinkingConfig": {"includeThoughts": True},
    },
}


def test_request_mapping() -> None:
    chat = to_chat_request(check_request(REQUEST).body, "qwen")
    assert chat["model"] == "qwen"
    assert chat["messages"] == [
        {"role": "system", "content": "You label reviews."},
        {"role": "user", "content": "Great kettle!"},
        {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "And this: broken lid."},
    ]
    assert (chat["temperature"], chat["top_p"], chat["max_tokens"], chat["stop"], chat["seed"]) == (
        0.2,
        0.9,
        64,
        ["END"],
        7,
    )
    schema = chat["response_format"]["json_schema"]["schema"]
    assert chat["response_format"]["type"] == "json_schema"
    assert schema == {
        "type": "object",
        "required": ["sentiment"],
        "properties": {
            "sentiment": {"type": "string", "enum": ["positive", "negative"]},
            "note": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        },
    }


def test_json_without_schema_and_images_map_too() -> None:
    body = {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "What is this?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                ],
            }
        ],
        "generationConfig": {"responseMimeType": "application/json"},
    }
    chat = to_chat_request(check_request(body).body, "llava")
    assert chat["response_format"] == {"type": "json_object"}
    assert chat["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}},
    ]
    assert to_json_schema({"type": "INTEGER", "minimum": 1, "propertyOrdering": []}) == {
        "type": "integer",
        "minimum": 1,
    }


def test_answer_maps_back_to_generate_content_response(
    fake: FakeChatServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LOCAL_LLM_KEY", SECRET)
    fake.replies = [(200, chat_answer('{"sentiment": "neg', finish="length"))]
    responder = OpenAIResponder(OpenAIConfig(base_url=fake.base_url, model="qwen", api_key_env="LOCAL_LLM_KEY"))
    with caplog.at_level(logging.DEBUG):
        response = responder.answer(check_request(REQUEST), "gemini-2.5-flash")
    assert fake.headers[0]["Authorization"] == f"Bearer {SECRET}"
    assert fake.requests[0]["model"] == "qwen"
    candidate = response["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS"
    assert candidate["content"] == {
        "role": "model",
        "parts": [{"text": "Thinking...", "thought": True}, {"text": '{"sentiment": "neg'}],
    }
    assert candidate["avgLogprobs"] == -1.0
    assert response["usageMetadata"] == {
        "promptTokenCount": 30,
        "candidatesTokenCount": 7,
        "thoughtsTokenCount": 5,
        "totalTokenCount": 42,
        "trafficType": "ON_DEMAND",
    }
    assert response["modelVersion"] == "qwen2.5-7b-instruct"
    assert response["responseId"] == "chatcmpl-123"
    assert response["createTime"] == "2024-05-01T10:00:00.000000Z"
    assert SECRET not in caplog.text


def test_client_errors_fail_the_row_without_retry(fake: FakeChatServer, caplog: pytest.LogCaptureFixture) -> None:
    fake.replies = [(400, {"error": {"message": "response_format not supported"}})]
    responder = OpenAIResponder(OpenAIConfig(base_url=fake.base_url, max_retries=3, api_key_env="UNSET_VAR_X"))
    with pytest.raises(RowError) as err:
        responder.answer(check_request(REQUEST), "gemini-2.5-flash")
    assert err.value.http_code == 400 and "response_format not supported" in err.value.message
    assert len(fake.requests) == 1
    assert "Authorization" not in fake.headers[0]


def test_server_errors_are_retried_then_fail_the_row(fake: FakeChatServer, caplog: pytest.LogCaptureFixture) -> None:
    fake.replies = [(503, {"error": {"message": "loading model"}}), (200, chat_answer())]
    responder = OpenAIResponder(OpenAIConfig(base_url=fake.base_url, max_retries=1))
    assert responder.answer(check_request(REQUEST), "m")["candidates"][0]["finishReason"] == "STOP"
    assert len(fake.requests) == 2
    fake.replies = [(503, {"error": {"message": "still loading"}})]
    with pytest.raises(RowError) as err:
        responder.answer(check_request(REQUEST), "m")
    assert err.value.http_code == 503 and err.value.status_text().startswith("Service Unavailable: ")


def test_unreachable_server_fails_the_row() -> None:
    responder = OpenAIResponder(OpenAIConfig(base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_seconds=2))
    with pytest.raises(RowError, match="unreachable"):
        responder.answer(check_request(REQUEST), "m")
