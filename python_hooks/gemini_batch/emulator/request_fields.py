"""Unknown field names anywhere in a GenerateContentRequest, reported the way Google's proto JSON parser does.

Vertex parses each row's request as proto JSON: a field may be spelt as its JSON name (camelCase) or its proto name
(snake_case), nothing else, and every unknown name is an error. Google's parser reports each one as
    Invalid JSON payload received. Unknown name "temprature" at 'generation_config': Cannot find field.
with the path in proto names, `[i]` for list items and `[i].value` for map entries, no " at ..." part at the top level,
and all errors joined by newlines (messages quoted in googleapis/python-aiplatform#4333 for a batch job,
google-gemini API answers in mnfst/llm-gateway#1858 and nashsu/llm_wiki#49).

The message types below follow google/cloud/aiplatform/v1beta1/content.proto, tool.proto and openapi.proto (v1beta1 is
the superset). Fields whose value is free JSON (Struct, Value) are not looked into.
"""

from __future__ import annotations

import re
from typing import Any

ANY = "any"  # free JSON (google.protobuf.Struct / Value): not checked

# message -> {jsonName: type}; a type is a message name, ANY, "scalar", ("list", type) or ("map", type).
MESSAGES: dict[str, dict[str, Any]] = {
    "GenerateContentRequest": {
        "model": "scalar", "contents": ("list", "Content"), "systemInstruction": "Content", "cachedContent": "scalar",
        "tools": ("list", "Tool"), "toolConfig": "ToolConfig", "labels": ("map", "scalar"),
        "safetySettings": ("list", "SafetySetting"), "modelArmorConfig": ANY, "generationConfig": "GenerationConfig",
    },
    "Content": {"role": "scalar", "parts": ("list", "Part")},
    "Part": {
        "text": "scalar", "inlineData": "Blob", "fileData": "FileData", "functionCall": "FunctionCall",
        "functionResponse": "FunctionResponse", "executableCode": "ExecutableCode",
        "codeExecutionResult": "CodeExecutionResult", "thought": "scalar", "thoughtSignature": "scalar",
        "videoMetadata": "VideoMetadata", "mediaResolution": ANY,
    },
    "Blob": {"mimeType": "scalar", "data": "scalar", "displayName": "scalar"},
    "FileData": {"mimeType": "scalar", "fileUri": "scalar", "displayName": "scalar"},
    "FunctionCall": {"id": "scalar", "name": "scalar", "args": ANY, "partialArgs": ANY, "willContinue": "scalar"},
    "FunctionResponse": {
        "id": "scalar", "name": "scalar", "response": ANY, "parts": ANY, "willContinue": "scalar",
        "scheduling": "scalar",
    },
    "ExecutableCode": {"language": "scalar", "code": "scalar"},
    "CodeExecutionResult": {"outcome": "scalar", "output": "scalar"},
    "VideoMetadata": {"startOffset": "scalar", "endOffset": "scalar", "fps": "scalar"},
    "GenerationConfig": {
        "temperature": "scalar", "topP": "scalar", "topK": "scalar", "candidateCount": "scalar",
        "maxOutputTokens": "scalar", "stopSequences": ("list", "scalar"), "responseLogprobs": "scalar",
        "logprobs": "scalar", "presencePenalty": "scalar", "frequencyPenalty": "scalar", "seed": "scalar",
        "responseMimeType": "scalar", "responseSchema": "Schema", "responseJsonSchema": ANY, "routingConfig": ANY,
        "audioTimestamp": "scalar", "responseModalities": ("list", "scalar"), "mediaResolution": "scalar",
        "speechConfig": ANY, "thinkingConfig": "ThinkingConfig", "modelConfig": ANY, "imageConfig": ANY,
        "enableAffectiveDialog": "scalar",
    },
    "ThinkingConfig": {"includeThoughts": "scalar", "thinkingBudget": "scalar", "thinkingLevel": "scalar"},
    "SafetySetting": {"category": "scalar", "threshold": "scalar", "method": "scalar"},
    "Tool": {
        "functionDeclarations": ("list", "FunctionDeclaration"), "retrieval": ANY, "googleSearchRetrieval": ANY,
        "googleSearch": ANY, "googleMaps": ANY, "enterpriseWebSearch": ANY, "codeExecution": ANY, "urlContext": ANY,
        "computerUse": ANY,
    },
    "FunctionDeclaration": {
        "name": "scalar", "description": "scalar", "parameters": "Schema", "parametersJsonSchema": ANY,
        "response": "Schema", "responseJsonSchema": ANY,
    },
    "ToolConfig": {"functionCallingConfig": "FunctionCallingConfig", "retrievalConfig": ANY},
    "FunctionCallingConfig": {
        "mode": "scalar", "allowedFunctionNames": ("list", "scalar"), "streamFunctionCallArguments": "scalar",
    },
    "Schema": {
        "type": "scalar", "format": "scalar", "title": "scalar", "description": "scalar", "nullable": "scalar",
        "default": ANY, "items": "Schema", "minItems": "scalar", "maxItems": "scalar", "enum": ("list", "scalar"),
        "properties": ("map", "Schema"), "propertyOrdering": ("list", "scalar"), "required": ("list", "scalar"),
        "minProperties": "scalar", "maxProperties": "scalar", "minimum": "scalar", "maximum": "scalar",
        "minLength": "scalar", "maxLength": "scalar", "pattern": "scalar", "example": ANY, "anyOf": ("list", "Schema"),
        "additionalProperties": ANY, "ref": "scalar", "defs": ("map", "Schema"),
    },
}  # fmt: skip
# Proto fields whose JSON name is not the camelCase of the proto name (openapi.proto: `ref` is "$ref", `defs` "$defs").
JSON_NAME_ALIASES = {"Schema": {"$ref": "ref", "$defs": "defs"}}


def proto_name(json_name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", json_name).lower()


def _spellings(message: str) -> dict[str, str]:
    """Every accepted spelling of the message's fields -> its JSON name."""
    names = {name: name for name in MESSAGES[message]}
    names |= {proto_name(name): name for name in MESSAGES[message]}
    return names | JSON_NAME_ALIASES.get(message, {})


_SPELLINGS = {message: _spellings(message) for message in MESSAGES}


def unknown_field_errors(request: dict[str, Any]) -> list[str]:
    """One Google-style message per unknown field name in the request (empty when every name is known)."""
    errors: list[str] = []
    _walk(request, "GenerateContentRequest", "", errors)
    return errors


def _walk(value: Any, kind: Any, path: str, errors: list[str]) -> None:
    if kind in (ANY, "scalar"):
        return
    if isinstance(kind, tuple):
        container, item = kind
        if container == "list" and isinstance(value, list):
            for i, element in enumerate(value):
                _walk(element, item, f"{path}[{i}]", errors)
        elif container == "map" and isinstance(value, dict):
            for i, element in enumerate(value.values()):
                _walk(element, item, f"{path}[{i}].value", errors)
        return
    if not isinstance(value, dict):
        return  # a wrong type is another check's business
    spellings = _SPELLINGS[kind]
    for key, element in value.items():
        name = spellings.get(key)
        if name is None:
            where = f" at '{path}'" if path else ""
            errors.append(f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.')
            continue
        field_path = f"{path}.{proto_name(name)}" if path else proto_name(name)
        _walk(element, MESSAGES[kind][name], field_path, errors)
