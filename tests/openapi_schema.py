"""Test-side translation of Gemini's OpenAPI schema subset into JSON Schema, to check answers with jsonschema.

Written independently of the emulator's own schema code, so a test validating the emulator's output with it can fail.
"""

from __future__ import annotations

from typing import Any


def openapi_to_jsonschema(schema: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            out["type"] = [value.lower(), "null"] if schema.get("nullable") else value.lower()
        elif key == "properties":
            out["properties"] = {k: openapi_to_jsonschema(v) for k, v in value.items()}
            out["additionalProperties"] = False
        elif key == "items":
            out["items"] = openapi_to_jsonschema(value)
        elif key == "anyOf":
            out["anyOf"] = [openapi_to_jsonschema(v) for v in value]
        elif key != "nullable":
            out[key] = value
    return out
