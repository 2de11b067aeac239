"""Answer rows with a local model behind an OpenAI-compatible chat completions API (vLLM, Ollama, llama.cpp).

Gemini's GenerateContentRequest is mapped to /chat/completions (systemInstruction -> system message, model -> assistant,
generationConfig -> temperature/top_p/max_tokens/stop/seed/n, responseSchema -> response_format json_schema) and the
answer is mapped back into GenerateContentResponse shape (finish_reason length -> MAX_TOKENS, usage -> usageMetadata,
reasoning tokens -> thoughtsTokenCount), so everything downstream parses it as if Gemini had answered.
The API key is read from the environment variable the config names, sent as a Bearer token, and never logged.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

from gemini_batch.emulator.clock import now_rfc3339, rfc3339
from gemini_batch.emulator.config import OpenAIConfig
from gemini_batch.emulator.request_check import CheckedRequest, texts
from gemini_batch.emulator.responders import RowError

log = logging.getLogger(__name__)

_FINISH = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "tool_calls": "STOP",
    "function_call": "STOP",
}
_SCHEMA_KEYS = {
    "description", "title", "format", "enum", "required", "minItems", "maxItems", "minimum", "maximum",
    "minLength", "maxLength", "pattern", "minProperties", "maxProperties", "default",
}  # fmt: skip


def to_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Gemini's OpenAPI subset (upper-case types, nullable) as the JSON Schema response_format expects."""
    out: dict[str, Any] = {k: v for k, v in schema.items() if k in _SCHEMA_KEYS}
    kind = schema.get("type")
    if isinstance(kind, str):
        out["type"] = [kind.lower(), "null"] if schema.get("nullable") else kind.lower()
    if "properties" in schema:
        out["properties"] = {name: to_json_schema(sub) for name, sub in schema["properties"].items()}
    if "items" in schema:
        out["items"] = to_json_schema(schema["items"])
    if "anyOf" in schema:
        out["anyOf"] = [to_json_schema(sub) for sub in schema["anyOf"]]
    return out


def _message_content(content: dict[str, Any]) -> str | list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in content.get("parts", []):
        if part.get("thought"):
            continue
        if isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif "inlineData" in part and str(part["inlineData"].get("mimeType", "")).startswith("image/"):
            blob = part["inlineData"]
            parts.append(
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:{blob['mimeType']};base64,{blob.get('data', '')}"},
                }
            )
        elif "fileData" in part and str(part["fileData"].get("fileUri", "")).startswith(("http://", "https://")):
            parts.append({"type": "image_url", "image_url": {"url": part["fileData"]["fileUri"]}})
        else:
            kind = next(iter(part), "part")
            parts.append({"type": "text", "text": f"[{kind} not forwarded by the local emulator]"})
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def to_chat_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """Map a (checked, camelCase) GenerateContentRequest to an OpenAI chat completions request."""
    messages: list[dict[str, Any]] = []
    if body.get("systemInstruction"):
        messages.append({"role": "system", "content": "\n".join(texts(body["systemInstruction"]))})
    for content in body["contents"]:
        role = "assistant" if content.get("role") == "model" else "user"
        messages.append({"role": role, "content": _message_content(content)})
    chat: dict[str, Any] = {"model": model, "messages": messages}
    config: dict[str, Any] = body.get("generationConfig") or {}
    for source, target in (
        ("temperature", "temperature"), ("topP", "top_p"), ("topK", "top_k"),
        ("maxOutputTokens", "max_tokens"),
        ("stopSequences", "stop"), ("seed", "seed"), ("presencePenalty", "presence_penalty"),
        ("frequencyPenalty", "frequency_penalty"), ("candidateCount", "n"),
    ):  # fmt: skip
        if config.get(source) is not None:
            chat[target] = config[source]
    mime = config.get("responseMimeType")
    if config.get("responseSchema") is not None:
        schema = to_json_schema(config["responseSchema"])
        chat["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    elif config.get("responseJsonSchema") is not None:
        schema = config["responseJsonSchema"]
        chat["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    elif mime == "application/json":
        chat["response_format"] = {"type": "json_object"}
    return chat


def _avg_logprob(choice: dict[str, Any]) -> float | None:
    items = ((choice.get("logprobs") or {}).get("content")) or []
    values = [i["logprob"] for i in items if isinstance(i, dict) and isinstance(i.get("logprob"), int | float)]
    return sum(values) / len(values) if values else None


def to_generate_content_response(chat: dict[str, Any], body: dict[str, Any], fallback_model: str) -> dict[str, Any]:
    """Map a chat completions answer back to GenerateContentResponse."""
    config: dict[str, Any] = body.get("generationConfig") or {}
    include_thoughts = bool(config.get("thinkingConfig", {}).get("includeThoughts"))
    candidates = []
    for position, choice in enumerate(chat.get("choices") or []):
        message = choice.get("message") or {}
        text = message.get("content") or ""
        if config.get("responseMimeType") == "text/x.enum":
            try:
                decoded = json.loads(text)
                text = decoded if isinstance(decoded, str) else text
            except ValueError:
                pass
        parts: list[dict[str, Any]] = [{"text": text}]
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if include_thoughts and reasoning:
            parts.insert(0, {"text": reasoning, "thought": True})
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": parts},
            "finishReason": _FINISH.get(
                str(choice.get("finish_reason")), "OTHER" if choice.get("finish_reason") else "STOP"
            ),
            "index": int(choice.get("index", position)),
        }
        avg = _avg_logprob(choice)
        if avg is not None:
            candidate["avgLogprobs"] = avg
        candidates.append(candidate)
    usage_in = chat.get("usage") or {}
    reasoning_tokens = int(((usage_in.get("completion_tokens_details") or {}).get("reasoning_tokens")) or 0)
    prompt_tokens = int(usage_in.get("prompt_tokens") or 0)
    completion = int(usage_in.get("completion_tokens") or 0)
    usage: dict[str, Any] = {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": max(0, completion - reasoning_tokens),
        "totalTokenCount": int(usage_in.get("total_tokens") or prompt_tokens + completion),
        "trafficType": "ON_DEMAND",
    }
    if reasoning_tokens:
        usage["thoughtsTokenCount"] = reasoning_tokens
    created = chat.get("created")
    create_time = rfc3339(datetime.fromtimestamp(created, UTC)) if isinstance(created, int | float) else now_rfc3339()
    return {
        "candidates": candidates,
        "usageMetadata": usage,
        "modelVersion": str(chat.get("model") or fallback_model),
        "createTime": create_time,
        "responseId": str(chat.get("id") or ""),
    }


def _error_message(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        error = data.get("error", data) if isinstance(data, dict) else data
        message = error.get("message") if isinstance(error, dict) else error
        return str(message)[:500]
    except ValueError:
        return raw.decode("utf-8", "replace")[:500]


class OpenAIResponder:
    """Posts each row to {base_url}/chat/completions; retries 429/5xx/connection errors with backoff."""

    def __init__(self, settings: OpenAIConfig) -> None:
        self.settings = settings
        self.concurrency = max(1, settings.concurrency)
        self.url = settings.base_url.rstrip("/") + "/chat/completions"

    def close(self) -> None:
        return None

    def answer(self, request: CheckedRequest, model_id: str) -> dict[str, Any]:
        payload = json.dumps(to_chat_request(request.body, self.settings.model)).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = self.settings.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        last: RowError | None = None
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
            req = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")  # noqa: S310 - configured URL
            try:
                with urllib.request.urlopen(req, timeout=self.settings.timeout_seconds) as resp:  # noqa: S310
                    chat = json.loads(resp.read())
                return to_generate_content_response(chat, request.body, self.settings.model)
            except urllib.error.HTTPError as exc:
                message = _error_message(exc.read())
                code = exc.code if exc.code in (400, 429, 503) else (400 if 400 <= exc.code < 500 else 500)
                last = RowError(code, f"OpenAI-compatible server answered HTTP {exc.code}: {message}")
                if exc.code != 429 and exc.code < 500:
                    break
            except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", exc)
                last = RowError(503, f"OpenAI-compatible server at {self.url} unreachable or invalid answer: {reason}")
            log.warning("openai responder attempt %d failed: %s", attempt + 1, last.message)
        assert last is not None
        raise last
