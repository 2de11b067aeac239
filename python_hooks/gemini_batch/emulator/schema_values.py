"""Make a JSON value that validates against a response schema, deterministically and plausibly.

Takes Gemini's OpenAPI subset (responseSchema: OBJECT/ARRAY/STRING/INTEGER/NUMBER/BOOLEAN in upper or lower
case, enum, properties, required, items, nullable, minItems/maxItems, minimum/maximum, anyOf,
propertyOrdering, format) and plain JSON Schema (responseJsonSchema: type lists, const, oneOf, $ref into
$defs, minLength/maxLength). Choices come from a seeded RNG plus hints from the prompt (sentiment enums,
topics, a summary phrase), so the same request always gets the same value, and reviews get labels that match
what they say.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from gemini_batch.emulator.prompt_signals import (
    PromptSignals,
    matching_topics,
    read_prompt,
    sentiment_choice,
)

_SUMMARY_NAMES = (
    "summary",
    "reason",
    "explanation",
    "rationale",
    "justification",
    "description",
    "comment",
    "note",
)
_POSITIVE_FLAGS = ("positive", "recommend", "satisfied", "happy", "would_buy", "wouldbuy")
_NEGATIVE_FLAGS = (
    "negative",
    "complaint",
    "refund",
    "urgent",
    "issue",
    "problem",
    "escalat",
    "churn",
    "angry",
)
_RATING_NAMES = ("rating", "score", "stars", "grade")


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        if "properties" in schema:
            return ["object"]
        if "items" in schema:
            return ["array"]
        if "enum" in schema:
            return ["string"]
        return []
    kinds = kind if isinstance(kind, list) else [kind]
    return [str(k).lower() for k in kinds]


@lru_cache(maxsize=4096)
def _label_words(label: str) -> tuple[str, ...]:
    return tuple(re.findall(r"[a-z]+", label.lower()))


def _enum_words(node: Any, out: set[str]) -> set[str]:
    """Every word of every enum label in the schema: an instruction that lists them is not evidence."""
    if isinstance(node, dict):
        for value in node.get("enum") or []:
            out.update(_label_words(str(value)))
        for value in node.values():
            if isinstance(value, dict | list):
                _enum_words(value, out)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, dict | list):
                _enum_words(value, out)
    return out


class ValueMaker:
    def __init__(self, root: dict[str, Any], prompt: str, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.signals: PromptSignals = read_prompt(prompt, ignore=_enum_words(root, set()))

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        merged = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        return self._resolve(merged) if "$ref" in node else merged

    def make(self, schema: dict[str, Any], name: str = "") -> Any:
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        for key in ("anyOf", "oneOf"):
            options = [s for s in schema.get(key) or [] if "null" not in _types(self._resolve(s))]
            if options or schema.get(key):
                return self.make((options or schema[key])[0], name)
        if schema.get("enum"):
            return self._enum(list(schema["enum"]), name)
        declared = _types(schema)
        kinds = [k for k in declared if k != "null"] or (["null"] if declared else ["string"])
        kind = kinds[0]
        if kind == "object":
            return self._object(schema)
        if kind == "array":
            return self._array(schema, name)
        if kind == "integer":
            return int(self._number(schema, name, integer=True))
        if kind == "number":
            return self._number(schema, name, integer=False)
        if kind == "boolean":
            return self._boolean(name)
        if kind == "null":
            return None
        return self._string(schema, name)

    def _enum(self, options: list[Any], name: str) -> Any:
        labels = [str(o) for o in options]
        pick = sentiment_choice(self.signals, labels) if len(labels) > 1 else None
        if pick is None:
            topics = matching_topics(self.signals, labels)
            pick = topics[0] if topics else None
        if pick is None:
            return self.rng.choice(options)
        return options[labels.index(pick)]

    def _object(self, schema: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        order = [p for p in schema.get("propertyOrdering") or [] if p in properties]
        order += [p for p in properties if p not in order]
        return {prop: self.make(properties[prop], prop) for prop in order}

    def _array(self, schema: dict[str, Any], name: str) -> list[Any]:
        items = self._resolve(schema.get("items") or {"type": "string"})
        low = int(schema.get("minItems", 0))
        high = max(low, int(schema.get("maxItems", max(low, 3))))
        low = max(low, min(1, high))  # an answer lists at least one item when it may
        if items.get("enum"):
            options = list(items["enum"])
            labels = [str(o) for o in options]
            chosen = [options[labels.index(t)] for t in matching_topics(self.signals, labels)][:high]
            spare = [o for o in options if o not in chosen]
            self.rng.shuffle(spare)
            while len(chosen) < low and spare:
                chosen.append(spare.pop())
            while len(chosen) < low:
                chosen.append(self.rng.choice(options))
            return chosen
        if (
            _types(items) == ["string"]
            and not items.get("format")
            and any(k in name.lower() for k in ("keyword", "tag"))
        ):
            words = [self._fit(w, items) for w in self.signals.keywords(high)] or [self._fit("none", items)]
            return (words * low)[:low] if low > len(words) else words
        count = self.rng.randint(low, high) if high > low else low
        return [self.make(items, name) for _ in range(count)]

    def _number(self, schema: dict[str, Any], name: str, integer: bool) -> float:
        lowered = name.lower()
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is None and high is None:
            if any(k in lowered for k in _RATING_NAMES) and integer:
                low, high = 1, 5
            elif any(k in lowered for k in ("confidence", "probability", "score")) and not integer:
                low, high = 0.5, 0.99
            else:
                low, high = (1, 100) if integer else (0.0, 100.0)
        low, high = (float(low) if low is not None else None), (float(high) if high is not None else None)
        if low is None:
            low = (high or 0.0) - 100
        if high is None:
            high = low + 100
        if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], int | float):
            low += 1 if integer else 1e-6
        if "exclusiveMaximum" in schema and isinstance(schema["exclusiveMaximum"], int | float):
            high -= 1 if integer else 1e-6
        if any(k in lowered for k in _RATING_NAMES) and self.signals.sentiment:
            value = high if self.signals.sentiment > 0 else low
        else:
            value = self.rng.uniform(low, high)
        if integer:
            return float(min(max(round(value), int(-(-low // 1))), int(high // 1)))
        return min(max(round(value, 2), low), high)

    def _boolean(self, name: str) -> bool:
        lowered = name.lower()
        if any(k in lowered for k in _NEGATIVE_FLAGS):
            return self.signals.sentiment < 0
        if any(k in lowered for k in _POSITIVE_FLAGS):
            return self.signals.sentiment > 0
        return self.rng.random() < 0.5

    def _string(self, schema: dict[str, Any], name: str) -> str:
        lowered = name.lower()
        fmt = str(schema.get("format", "")).lower()
        base = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
            days=self.rng.randint(0, 700), seconds=self.rng.randint(0, 86399)
        )
        if fmt == "date-time":
            text = base.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif fmt == "date":
            text = base.strftime("%Y-%m-%d")
        elif fmt == "email":
            text = f"user{self.rng.randint(1, 999)}@example.com"
        elif fmt in ("uri", "url"):
            text = f"https://example.com/{self.rng.randint(1, 9999)}"
        elif fmt == "uuid":
            text = "%08x-%04x-4%03x-8%03x-%012x" % (  # noqa: UP031 - fixed-width hex fields
                self.rng.getrandbits(32), self.rng.getrandbits(16), self.rng.getrandbits(12),
                self.rng.getrandbits(12), self.rng.getrandbits(48),
            )  # fmt: skip
        elif "language" in lowered or lowered in ("lang", "locale"):
            text = "en"
        elif "sentiment" in lowered:
            text = self.signals.label
        elif any(k in lowered for k in _SUMMARY_NAMES):
            text = self.signals.phrase()
        elif any(k in lowered for k in ("title", "name", "headline", "subject")):
            text = " ".join(w.capitalize() for w in self.signals.keywords(3)) or "Untitled"
        else:
            text = " ".join(self.signals.keywords(3)) or "n/a"
        return self._fit(text, schema)

    @staticmethod
    def _fit(text: str, schema: dict[str, Any]) -> str:
        """Pad or cut a string to the schema's minLength/maxLength."""
        min_len, max_len = schema.get("minLength"), schema.get("maxLength")
        if isinstance(min_len, int) and len(text) < min_len:
            text = text + "." * (min_len - len(text))
        if isinstance(max_len, int) and len(text) > max_len:
            text = text[:max_len]
        return text


def make_value(schema: dict[str, Any], prompt: str, rng: random.Random) -> Any:
    """A value valid against `schema`; same (schema, prompt, rng state) -> same value."""
    return ValueMaker(schema, prompt, rng).make(schema)
