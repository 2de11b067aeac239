"""How many output tokens one request implies before the model has answered anything: a low and a likely figure, and
the ceiling maxOutputTokens sets.

  * A structured answer (responseSchema / responseJsonSchema) is bounded by its schema: an enum is as long as its
    labels, a number a few tokens, a boolean one; a free string uses STRING_TOKENS (or the words its description
    allows, "at most 25 words"); an array maxItems (else ARRAY_ITEMS) items, never more than its enum has.
  * A text answer uses the model's typical answer length from the price registry (typical_output_tokens).
  * Thinking tokens follow the thinking budget: 0 thinks not at all; a positive budget caps the model's typical
    thinking (typical_thinking_tokens); no budget (or -1, dynamic) thinks the typical amount on a model that thinks
    by default (a registry row with typical_thinking_tokens) and not at all on one that does not.
  * The ceiling is maxOutputTokens (else the model's output limit, 65,535 tokens for Gemini 2.5, Vertex model cards)
    for the answer, plus the thinking budget (else, on a model that thinks by default, MAX_THINKING_BUDGET). Whether
    thinking draws on maxOutputTokens is not settled: Google's thinking documentation describes them apart, users
    report Gemini 3 spending one allowance on both (googleapis/python-genai#2062). The estimate takes the adverse
    reading for cost: thinking is counted on top of the answer, never squeezed into maxOutputTokens.

Pure functions of the request body and two registry numbers: the estimate module applies them to a sample of the
pending requests. The figures are estimates, labelled as such wherever they are shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Gemini 2.5's output limit (65,535 tokens, Vertex model cards): the ceiling of a request without maxOutputTokens.
DEFAULT_MAX_OUTPUT_TOKENS = 65_535
# The largest thinking budget Gemini 2.5 accepts (2.5 Pro: 32,768; 2.5 Flash: 24,576; Vertex "Thinking" page): the
# thinking ceiling of a request that thinks with no budget of its own.
MAX_THINKING_BUDGET = 32_768
CHARS_PER_TOKEN = 4
STRING_TOKENS = (4, 40)  # (low, likely) tokens of a free-text field of a structured answer
ARRAY_ITEMS = (1, 3)  # (low, likely) items of an array without minItems/maxItems
TEXT_LOW_SHARE = 0.25  # a text answer's low figure: a quarter of the model's typical length
THINKING_LOW_SHARE = 0.25
_WORDS = re.compile(r"\b(?:at most|up to|no more than|max(?:imum)?(?: of)?)\s+(\d+)\s+words?\b", re.IGNORECASE)
_SENTENCES = re.compile(r"\b(?:one|a single|1)\s+sentence\b", re.IGNORECASE)


@dataclass(frozen=True)
class OutputTokens:
    """Output tokens of one request: answer and thinking, low and likely, and their ceilings."""

    low: float
    likely: float
    thinking_low: float
    thinking_likely: float
    ceiling: int
    thinking_ceiling: int = 0

    def __add__(self, other: OutputTokens) -> OutputTokens:
        return OutputTokens(
            self.low + other.low,
            self.likely + other.likely,
            self.thinking_low + other.thinking_low,
            self.thinking_likely + other.thinking_likely,
            self.ceiling + other.ceiling,
            self.thinking_ceiling + other.thinking_ceiling,
        )


def _tokens(text: str) -> int:
    return max(1, -(-len(text) // CHARS_PER_TOKEN))


def _config(body: dict[str, Any]) -> dict[str, Any]:
    config = body.get("generationConfig") or body.get("generation_config") or {}
    return config if isinstance(config, dict) else {}


def _get(mapping: dict[str, Any], camel: str) -> Any:
    """A field by its camelCase or snake_case name (Vertex's JSON reader accepts both)."""
    if camel in mapping:
        return mapping[camel]
    return mapping.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))


def _types(schema: dict[str, Any]) -> list[str]:
    declared = schema.get("type")
    names = declared if isinstance(declared, list) else [declared] if declared else []
    return [str(n).lower() for n in names]


def schema_tokens(schema: Any, root: dict[str, Any] | None = None, name: str = "") -> tuple[float, float]:
    """(low, likely) tokens of a JSON value following this (OpenAPI or JSON) schema, punctuation included."""
    if not isinstance(schema, dict):
        return STRING_TOKENS
    root = root if root is not None else schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return schema_tokens({**node, **{k: v for k, v in schema.items() if k != "$ref"}}, root, name)
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key) or [] if isinstance(s, dict) and "null" not in _types(s)]
        if options:
            figures = [schema_tokens(o, root, name) for o in options]
            return min(f[0] for f in figures), max(f[1] for f in figures)
    if schema.get("enum"):
        lengths = [_tokens(str(v)) + 1 for v in schema["enum"]]  # + quotes
        return min(lengths), sum(lengths) / len(lengths)
    kinds = [k for k in _types(schema) if k != "null"] or ["string"]
    kind = kinds[0]
    if kind == "object":
        low = likely = 2.0  # braces
        for prop, sub in (schema.get("properties") or {}).items():
            name_tokens = float(_tokens(str(prop)) + 2)  # quotes, colon, comma
            sub_low, sub_likely = schema_tokens(sub, root, str(prop))
            low, likely = low + name_tokens + sub_low, likely + name_tokens + sub_likely
        return low, likely
    if kind == "array":
        items = schema.get("items") or {"type": "string"}
        item_low, item_likely = schema_tokens(items, root, name)
        most = schema.get("maxItems")
        least = int(schema.get("minItems") or 0)
        low_n, likely_n = max(least, ARRAY_ITEMS[0]), max(least, ARRAY_ITEMS[1])
        enum = items.get("enum") if isinstance(items, dict) else None
        if enum:
            likely_n = min(likely_n, len(enum))
        if most is not None:
            likely_n, low_n = min(likely_n, int(most)), min(low_n, int(most))
        return 2 + low_n * (item_low + 1), 2 + likely_n * (item_likely + 1)
    if kind in ("integer", "number"):
        return 1, 3
    if kind == "boolean":
        return 1, 1
    if kind == "null":
        return 1, 1
    description = str(schema.get("description") or "")
    words = _WORDS.search(description)
    if words:
        allowed = int(words.group(1)) * 4 / 3 + 2  # ~0.75 words per token
        return min(STRING_TOKENS[0], allowed), allowed
    if _SENTENCES.search(description):
        return STRING_TOKENS[0], 30
    most_chars = schema.get("maxLength")
    if most_chars is not None:
        return 1, min(STRING_TOKENS[1], _tokens("x" * int(most_chars)) + 2)
    return STRING_TOKENS


def request_output_tokens(
    body: dict[str, Any], typical_output: int | None, typical_thinking: int | None
) -> tuple[OutputTokens, str]:
    """The output tokens one request implies, and what they were bounded by (for the plan's label)."""
    config = _config(body)
    ceiling = _get(config, "maxOutputTokens")
    ceiling = int(ceiling) if isinstance(ceiling, int | float) and ceiling > 0 else DEFAULT_MAX_OUTPUT_TOKENS
    schema = _get(config, "responseSchema") or _get(config, "responseJsonSchema")
    if schema is not None:
        low, likely = schema_tokens(schema)
        basis = "output_schema"
    else:
        typical = typical_output if typical_output is not None else 500
        low, likely = typical * TEXT_LOW_SHARE, float(typical)
        basis = "typical text answer"
    thinking = _get(config, "thinkingConfig") or {}
    budget = _get(thinking, "thinkingBudget") if isinstance(thinking, dict) else None
    if budget == 0:
        think_likely, think_ceiling = 0.0, 0
    elif isinstance(budget, int | float) and budget > 0:
        think_likely = float(min(budget, typical_thinking if typical_thinking is not None else budget / 2))
        think_ceiling = int(budget)
    else:  # no budget, or -1 (dynamic): the model's default
        think_likely = float(typical_thinking or 0)
        think_ceiling = MAX_THINKING_BUDGET if typical_thinking else 0
    likely = min(likely, ceiling)
    low = min(low, likely)
    return OutputTokens(low, likely, think_likely * THINKING_LOW_SHARE, think_likely, ceiling, think_ceiling), basis
