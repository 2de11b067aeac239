"""Who answers a row: the deterministic fake Gemini (default) or an OpenAI-compatible server (openai_responder).

The deterministic responder is the one tests and demos rely on: the same request and model always produce the same
GenerateContentResponse, byte for byte (the RNG is seeded from sha256 of the canonical request; createTime is derived
from that seed, not the clock). Its shape follows what Gemini returns: candidates with finishReason, avgLogprobs,
safetyRatings, usageMetadata with token counts (~4 characters per token), modelVersion and responseId. Structured
output (responseMimeType application/json with responseSchema/responseJsonSchema) validates against the schema, and a
maxOutputTokens smaller than the answer cuts the text and reports MAX_TOKENS, exactly as truncation looks for real.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from gemini_batch.emulator.clock import rfc3339
from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.prompt_signals import read_prompt
from gemini_batch.emulator.request_check import CheckedRequest, prompt_text, texts, user_text
from gemini_batch.emulator.schema_values import make_value

CHARS_PER_TOKEN = 4
MEDIA_PART_TOKENS = 258  # what Gemini counts for one image
_REASONS = {
    400: "Bad Request",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)
_OPENERS = (
    "Here is a short answer.",
    "In brief:",
    "Short answer:",
    "Summary of the request:",
)
_FILLERS = (
    "The text focuses on {a} and {b}.",
    "The main points concern {a}, with some attention to {b}.",
    "Overall the tone is {tone}.",
    "Key terms: {a}, {b}, {c}.",
    "It mentions {a} more than anything else.",
    "No further details are needed to answer this.",
)


class RowError(Exception):
    """A row answered with a failure status instead of a response (the job still goes on)."""

    def __init__(self, http_code: int, message: str) -> None:
        super().__init__(message)
        self.http_code = http_code if http_code in _REASONS else 500
        self.message = message

    def status_text(self) -> str:
        """The output `status`: `Bad Request: {"error": {"code": 400, "message": ..., "status": ...}}`."""
        body = {
            "error": {
                "code": self.http_code,
                "message": self.message,
                "status": _STATUS_NAMES[self.http_code],
            }
        }
        return f"{_REASONS[self.http_code]}: {json.dumps(body)}"


class Responder(Protocol):
    """Answers one checked request for a model; raises RowError for a row that fails."""

    concurrency: int

    def answer(self, request: CheckedRequest, model_id: str) -> dict[str, Any]: ...

    def close(self) -> None: ...


def tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def prompt_token_count(body: dict[str, Any]) -> int:
    """promptTokenCount of a checked request: the answer's usageMetadata and countTokens both use this, so an estimate
    made with countTokens before a run matches what the run then reports."""
    media = sum(1 for c in body["contents"] for p in c["parts"] if "inlineData" in p or "fileData" in p)
    return tokens(prompt_text(body)) + MEDIA_PART_TOKENS * media


def model_version(model_id: str) -> str:
    """What Gemini reports as modelVersion: the stable version of the model the job names."""
    base = model_id.split("@", 1)[0]
    if not base.startswith("gemini-") or re.search(r"-\d{3}$", base) or "preview" in base or "exp" in base:
        return base
    return f"{base}-001"


def _thinks(model_id: str, generation_config: dict[str, Any]) -> int | None:
    """The thinking budget in effect (-1 dynamic), or None when the model does not think for this request."""
    budget = generation_config.get("thinkingConfig", {}).get("thinkingBudget")
    if budget == 0:
        return None
    if budget is not None:
        return int(budget)
    thinks_by_default = bool(re.match(r"gemini-(2\.5-(pro|flash(?!-lite))|3)", model_id))
    return -1 if thinks_by_default else None


class DeterministicResponder:
    """Answers from a seeded RNG and the prompt's own words: no network, no model, reproducible."""

    concurrency = 1

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def close(self) -> None:
        return None

    def answer(self, request: CheckedRequest, model_id: str) -> dict[str, Any]:
        body = request.body
        config: dict[str, Any] = body.get("generationConfig") or {}
        # fileData objects the emulator could see (name, MIME type, size) feed the answer, so a different file gives a
        # different, still reproducible answer.
        files = "; ".join(info.describe() for info in request.files)
        digest = hashlib.sha256(f"{self.seed}:{model_id}:{request.key}:{files}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:16], "big"))
        prompt = prompt_text(body)
        candidates = []
        total_candidate_tokens = 0
        for index in range(int(config.get("candidateCount") or 1)):
            text, finish = self._text(body, config, rng, files)
            budget = config.get("maxOutputTokens")
            if isinstance(budget, int) and tokens(text) > budget:
                text, finish = text[: budget * CHARS_PER_TOKEN], "MAX_TOKENS"
            count = tokens(text)
            total_candidate_tokens += count
            parts: list[dict[str, Any]] = [{"text": text}]
            candidate: dict[str, Any] = {
                "content": {"role": "model", "parts": parts},
                "finishReason": finish,
                "avgLogprobs": -round(rng.uniform(0.02, 0.9), 6),
                "safetyRatings": [
                    {
                        "category": category,
                        "probability": "NEGLIGIBLE",
                        "probabilityScore": round(rng.uniform(0.001, 0.08), 6),
                        "severity": "HARM_SEVERITY_NEGLIGIBLE",
                        "severityScore": round(rng.uniform(0.001, 0.06), 6),
                    }
                    for category in _SAFETY_CATEGORIES
                ],
                "index": index,
            }
            candidates.append(candidate)
        thinking = _thinks(model_id, config)
        thoughts = 0
        if thinking is not None:
            thoughts = rng.randint(80, 700) if thinking < 0 else min(thinking, rng.randint(64, max(64, thinking)))
            if config.get("thinkingConfig", {}).get("includeThoughts"):
                topics = ", ".join(read_prompt(prompt).keywords(3))
                thought = f"**Reading the request**\n\nThe request is about {topics}."
                candidates[0]["content"]["parts"].insert(0, {"text": thought, "thought": True})
        prompt_tokens = prompt_token_count(body)
        usage: dict[str, Any] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": total_candidate_tokens,
            "totalTokenCount": prompt_tokens + total_candidate_tokens + thoughts,
            "trafficType": "ON_DEMAND",
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": total_candidate_tokens}],
        }
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        # createTime comes from the request's hash, not the clock: the response is reproducible byte for byte.
        offset = int.from_bytes(digest[16:24], "big") % (365 * 86400 * 10**6)
        created = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=offset)
        return {
            "candidates": candidates,
            "usageMetadata": usage,
            "modelVersion": model_version(model_id),
            "createTime": rfc3339(created),
            "responseId": base64.urlsafe_b64encode(hashlib.sha256(digest).digest()[:15]).decode(),
        }

    def _text(
        self, body: dict[str, Any], config: dict[str, Any], rng: random.Random, files: str = ""
    ) -> tuple[str, str]:
        mime = config.get("responseMimeType", "text/plain")
        schema = config.get("responseSchema") or config.get("responseJsonSchema")
        about = user_text(body) + (f"\nAttached: {files}." if files else "")
        # the system instruction may state a field's bounds ("a score from 1 to 5"); values come from the user turn
        instruction = "\n".join(texts(body["systemInstruction"])) if body.get("systemInstruction") else ""
        if mime == "text/x.enum" and schema:
            return str(make_value(schema, about, rng, instruction)), "STOP"
        if mime == "application/json":
            value = make_value(schema, about, rng, instruction) if schema else self._default_json(about)
            return json.dumps(value, indent=2, ensure_ascii=False), "STOP"
        text = self._prose(about, rng) + (f" The attached {files} was read." if files else "")
        for stop in config.get("stopSequences") or []:
            if stop and stop in text:
                text = text[: text.index(stop)]
        return text, "STOP"

    @staticmethod
    def _default_json(about: str) -> dict[str, Any]:
        signals = read_prompt(about)
        return {"answer": signals.phrase(), "keywords": signals.keywords(3), "sentiment": signals.label}

    @staticmethod
    def _prose(about: str, rng: random.Random) -> str:
        signals = read_prompt(about)
        words = [*signals.keywords(3), "the request", "the context", "the details"]
        fill = {"a": words[0], "b": words[1], "c": words[2], "tone": signals.label}
        sentences = [rng.choice(_OPENERS), signals.phrase()]
        sentences += [template.format(**fill) for template in rng.sample(_FILLERS, rng.randint(2, 4))]
        return " ".join(sentences)


def make_responder(config: EmulatorConfig) -> Responder:
    if config.responder == "openai":
        from gemini_batch.emulator.openai_responder import OpenAIResponder

        return OpenAIResponder(config.openai)
    return DeterministicResponder(config.seed)
