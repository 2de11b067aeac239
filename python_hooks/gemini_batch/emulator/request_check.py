"""Read one row's `request` as Gemini would: normalize snake_case keys, and refuse what Gemini refuses.

A refused row does not fail the job: it gets a status `Bad Request: {"error": {...}}` and an empty response, so
every message here is the one Gemini gives for that mistake (or close to it), because parse models and people
will read them.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from gemini_batch.emulator.request_fields import unknown_field_errors
from gemini_batch.emulator.validation import LABEL_KEY, LABEL_VALUE, camel

DOCS = "Learn more: https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/gemini"
MAX_REQUEST_LABELS = 64
# Gemini's request size limit as Google's API errors state it ("Request payload size exceeds the limit: 20971520
# bytes."); the package itself refuses above 20,000,000 bytes, the stricter reading of "20 MB".
MAX_REQUEST_BYTES = 20_971_520
_YOUTUBE = re.compile(r"^https://(?:(?:www\.|m\.)?youtube\.com/(?:watch\?v=|shorts/)|youtu\.be/)[\w-]+")
PART_DATA_FIELDS = {
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
    "codeExecutionResult",
}  # fmt: skip
SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
RESPONSE_MIME_TYPES = {"text/plain", "application/json", "text/x.enum"}


class BadRequest(ValueError):
    """The row's request is not one Gemini accepts; the message is what goes into the row's status."""


@dataclass(frozen=True)
class CheckedRequest:
    body: dict[str, Any]  # normalized: camelCase keys everywhere except user-named schema properties
    key: str  # sha256 of the canonical JSON without labels: the identity used for determinism and row-fault picks
    # Metadata of the Cloud Storage objects the fileData parts name (gcs_io.ObjectInfo), when the emulator can see
    # them: the deterministic responder answers from it.
    files: tuple[Any, ...] = ()


def _schema(node: Any, where: str) -> Any:
    """camelCase the keywords of an OpenAPI-subset schema, leaving property names (user data) alone."""
    if not isinstance(node, dict):
        raise BadRequest(f"Unable to submit request because {where} is not a schema object. {DOCS}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        name = camel(key)
        if name == "properties":
            if not isinstance(value, dict):
                raise BadRequest(f"Unable to submit request because {where}.properties is not an object. {DOCS}")
            out[name] = {prop: _schema(sub, f"{where}.properties.{prop}") for prop, sub in value.items()}
        elif name == "items":
            out[name] = _schema(value, f"{where}.items")
        elif name == "anyOf":
            out[name] = [_schema(sub, f"{where}.anyOf") for sub in (value or [])]
        else:
            out[name] = value
    kind = out.get("type")
    if kind is not None and (not isinstance(kind, str) or kind.upper() not in SCHEMA_TYPES):
        raise BadRequest(
            "Unable to submit request because one or more response schemas specified incorrect schema type "
            "field. "
            f"The type field must be one of {sorted(SCHEMA_TYPES - {'NULL'})}, got {kind!r} at {where}. "
            f"{DOCS}"
        )
    if kind is None and "anyOf" not in out and not out.get("enum"):
        raise BadRequest(f"Unable to submit request because {where} has no type. {DOCS}")
    return out


def _content(content: Any, where: str, roles: bool) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise BadRequest(f"Invalid JSON payload received. {where} must be a Content object.")
    item = {camel(k): v for k, v in content.items()}
    role = item.get("role")
    if roles and role is not None and role not in ("user", "model"):
        raise BadRequest("Please use a valid role: user, model.")
    parts = item.get("parts")
    if not isinstance(parts, list) or not parts:
        raise BadRequest(
            "Unable to submit request because it must have at least one parts field, which describe the "
            "prompt "
            f"input. {DOCS}"
        )
    normalized = []
    for part in parts:
        if not isinstance(part, dict):
            raise BadRequest(f"Invalid JSON payload received. {where}.parts must hold Part objects.")
        fields = {camel(k): v for k, v in part.items()}
        if not PART_DATA_FIELDS & set(fields):
            raise BadRequest(f"Unable to submit request because it has an empty part. {DOCS}")
        if "text" in fields and (not isinstance(fields["text"], str) or fields["text"] == ""):
            raise BadRequest(
                "Unable to submit request because it has an empty text parameter. Add a value to the "
                "parameter and "
                f"try again. {DOCS}"
            )
        for blob in ("inlineData", "fileData"):
            if blob in fields:
                if not isinstance(fields[blob], dict):
                    raise BadRequest(f"Invalid JSON payload received. {blob} must be an object.")
                fields[blob] = {camel(k): v for k, v in fields[blob].items()}
                if not fields[blob].get("mimeType"):
                    raise BadRequest(f"Unable to submit request because {blob} has no mime_type. {DOCS}")
        if "fileData" in fields:
            _check_file_uri(fields["fileData"].get("fileUri"))
        normalized.append(fields)
    item["parts"] = normalized
    return item


def _check_file_uri(uri: Any) -> None:
    """Batch reads files from Cloud Storage (gs://) or public YouTube videos; Vertex refuses any other URI with
    400 "Unsupported file uri: <uri>" (the text quoted from Vertex in BerriAI/litellm#11529)."""
    cloud_storage = isinstance(uri, str) and uri.startswith("gs://") and len(uri) > len("gs://")
    if not cloud_storage and not (isinstance(uri, str) and _YOUTUBE.match(uri)):
        raise BadRequest(f"Unsupported file uri: {uri}")


def _check_labels(labels: Any) -> dict[str, str]:
    """GenerateContentRequest.labels follow the rules of cloud.google.com/vertex-ai/generative-ai/docs/multimodal/
    add-labels-to-api-calls: at most 64; keys 1-63 characters starting with a lowercase letter or an international
    character; keys and values only lowercase letters, digits, `_` and `-` (international characters allowed); values
    may be empty. Google's error text for a bad label was not found; this one names the label and the rule."""
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise BadRequest("Invalid JSON payload received. labels must be a map of strings to strings.")
    if len(labels) > MAX_REQUEST_LABELS:
        raise BadRequest(f"Invalid labels: at most {MAX_REQUEST_LABELS} labels are allowed, got {len(labels)}.")
    for key, value in labels.items():
        if not LABEL_KEY.match(key):
            raise BadRequest(
                f"Invalid label key {key!r}: keys are 1-63 characters, start with a lowercase letter and use only "
                "lowercase letters, digits, '_' and '-'."
            )
        if not LABEL_VALUE.match(value):
            raise BadRequest(
                f"Invalid label value {value!r} for key {key!r}: values are at most 63 characters of lowercase "
                "letters, digits, '_' and '-'."
            )
    return dict(labels)


def _generation_config(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest("Invalid JSON payload received. generation_config must be an object.")
    config = {camel(k): v for k, v in raw.items()}
    temperature = config.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
        raise BadRequest(
            f"Unable to submit request because it has a temperature value of {temperature} but the "
            "supported range "
            f"is from 0 (inclusive) to 2.0001 (exclusive). Update the value and try again. {DOCS}"
        )
    top_p = config.get("topP")
    if top_p is not None and not (isinstance(top_p, int | float) and 0 < top_p <= 1):
        raise BadRequest(f"Unable to submit request because top_p must be in (0, 1], got {top_p}. {DOCS}")
    for key, low, high in (("maxOutputTokens", 1, 65536), ("candidateCount", 1, 8)):
        value = config.get(key)
        if value is not None and not (isinstance(value, int) and low <= value <= high):
            raise BadRequest(
                f"Unable to submit request because it has a {key} value of {value} but the supported range "
                "is "
                f"from {low} (inclusive) to {high + 1} (exclusive). Update the value and try again. {DOCS}"
            )
    mime = config.get("responseMimeType")
    if mime is not None and mime not in RESPONSE_MIME_TYPES:
        raise BadRequest(
            f"Unable to submit request because response_mime_type {mime!r} is not supported: use one of "
            f"{sorted(RESPONSE_MIME_TYPES)}. {DOCS}"
        )
    if "responseSchema" in config or "responseJsonSchema" in config:
        if mime not in ("application/json", "text/x.enum"):
            raise BadRequest(
                "Unable to submit request because response_schema is only supported when response_mime_type "
                "is "
                f"application/json or text/x.enum. {DOCS}"
            )
        if "responseSchema" in config and "responseJsonSchema" in config:
            raise BadRequest(
                f"Unable to submit request because response_schema and response_json_schema are both set. {DOCS}"
            )
    if "responseSchema" in config:
        config["responseSchema"] = _schema(config["responseSchema"], "response_schema")
    elif "responseJsonSchema" in config and not isinstance(config["responseJsonSchema"], dict):
        raise BadRequest(f"Unable to submit request because response_json_schema is not an object. {DOCS}")
    if "thinkingConfig" in config:
        thinking = {camel(k): v for k, v in (config["thinkingConfig"] or {}).items()}
        budget = thinking.get("thinkingBudget")
        if budget is not None and not (isinstance(budget, int) and -1 <= budget <= 32768):
            raise BadRequest(f"Unable to submit request because thinking_budget {budget} is out of range. {DOCS}")
        config["thinkingConfig"] = thinking
    return config


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _without_labels(request: Any) -> Any:
    """The request minus `labels`: labels are "used for billing and reporting only" (GenerateContentRequest.labels,
    cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/GenerateContentRequest), so a request sent with
    other labels is answered (and faulted) alike."""
    if isinstance(request, dict) and "labels" in request:
        return {k: v for k, v in request.items() if k != "labels"}
    return request


def request_key(raw: Any) -> str:
    """sha256 of the request as given (canonical JSON when it parses, labels left out), for rows that are refused
    too."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return hashlib.sha256(raw.encode()).hexdigest()
    return hashlib.sha256(canonical_json(_without_labels(raw)).encode()).hexdigest()


def check_request(raw: Any) -> CheckedRequest:
    """Parse (STRING column) or take (JSON column) a row's request; raise BadRequest with Gemini's message."""
    if raw is None:
        raise BadRequest("Invalid JSON payload received. The request is empty (NULL).")
    if isinstance(raw, str):
        if len(raw) > MAX_REQUEST_BYTES // 4 and len(raw.encode()) > MAX_REQUEST_BYTES:  # the cheap test first
            raise BadRequest(f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes.")
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadRequest(
                f"Invalid JSON payload received. {exc.msg} at line {exc.lineno} column {exc.colno}."
            ) from exc
    if not isinstance(raw, dict):
        raise BadRequest("Invalid JSON payload received. The request must be a GenerateContentRequest object.")
    unknown = unknown_field_errors(raw)
    if unknown:
        raise BadRequest("\n".join(unknown))
    body = {camel(key): value for key, value in raw.items()}
    if body.get("cachedContent"):
        raise BadRequest(
            f"Unable to submit request because cached_content is not supported in batch prediction. {DOCS}"
        )
    contents = body.get("contents")
    if contents is None or contents == []:
        raise BadRequest(f"Unable to submit request because it has an empty contents field. {DOCS}")
    if not isinstance(contents, list):
        raise BadRequest("Invalid JSON payload received. contents must be a list of Content objects.")
    body["contents"] = [_content(c, f"contents[{i}]", roles=True) for i, c in enumerate(contents)]
    if body.get("systemInstruction") is not None:
        system = body["systemInstruction"]
        if not isinstance(system, dict):
            # The SDKs accept a bare string and wrap it in a Content; the API (proto JSON) does not. The message is
            # proto JSON's type-mismatch error (the shape of "Invalid value at 'contents[0]'" errors Google returns).
            raise BadRequest(
                "Invalid JSON payload received. Invalid value at 'system_instruction' "
                f"(type.googleapis.com/google.cloud.aiplatform.v1.Content), {json.dumps(system)}"
            )
        body["systemInstruction"] = _content(system, "system_instruction", roles=False)
    if body.get("generationConfig") is not None:
        body["generationConfig"] = _generation_config(body["generationConfig"])
    if body.get("labels") is not None:
        body["labels"] = _check_labels(body["labels"])
    return CheckedRequest(body=body, key=hashlib.sha256(canonical_json(_without_labels(body)).encode()).hexdigest())


def texts(content: dict[str, Any]) -> list[str]:
    return [p["text"] for p in content.get("parts", []) if isinstance(p.get("text"), str) and not p.get("thought")]


def prompt_text(body: dict[str, Any]) -> str:
    """All prompt text (system instruction and every turn), for token counts."""
    chunks = texts(body["systemInstruction"]) if body.get("systemInstruction") else []
    for content in body.get("contents", []):
        chunks.extend(texts(content))
    return "\n".join(chunks)


def user_text(body: dict[str, Any]) -> str:
    """The text of the last user turn: what an answer is about."""
    for content in reversed(body.get("contents", [])):
        if content.get("role", "user") == "user":
            return "\n".join(texts(content))
    return ""
