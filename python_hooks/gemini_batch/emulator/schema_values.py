"""Make a JSON value that validates against a response schema, deterministically and plausibly.

Takes Gemini's OpenAPI subset (responseSchema: OBJECT/ARRAY/STRING/INTEGER/NUMBER/BOOLEAN in upper or lower
case, enum, properties, required, items, nullable, minItems/maxItems, minimum/maximum, anyOf,
propertyOrdering, format) and plain JSON Schema (responseJsonSchema: type lists, const, oneOf, $ref into
$defs, minLength/maxLength). Choices come from a seeded RNG plus hints from the prompt (sentiment enums,
topics, a summary phrase), so the same request always gets the same value, and reviews get labels that match
what they say. Where the prompt states it (gemini_batch.emulator.prompt_facts), a field repeats the prompt: numbers
near the field's name ("salary 70,000 - 90,000" -> salary_min 70000, salary_max 90000), the bounds a description
or instruction gives ("score from 1 to 5"), the currency, language, place or labelled value ("Skills: a, b") the
text names, an enum option the text names. Every value stays valid for its schema (bounds, integers, enum,
minItems/maxItems, minLength/maxLength), and a pair like salary_min/salary_max is never out of order.
"""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from gemini_batch.emulator import prompt_facts
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
    def __init__(self, root: dict[str, Any], prompt: str, rng: random.Random, instruction: str = "") -> None:
        self.root = root
        self.rng = rng
        self.prompt = prompt
        self.instruction = instruction  # the system instruction: bounds it states, never values
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
        fact = self._fact(name)
        if fact is not None:
            for option, label in zip(options, labels, strict=True):
                if label.lower() == fact.lower():
                    return option
        pick = sentiment_choice(self.signals, labels) if len(labels) > 1 else None
        if pick is None:
            topics = matching_topics(self.signals, labels)
            pick = topics[0] if topics else None
        if pick is None and "?" in self.prompt:  # a text that asks something is a question
            pick = next((label for label in labels if label.lower().startswith(("question", "inquir", "how"))), None)
        if pick is None:
            return self.rng.choice(options)
        return options[labels.index(pick)]

    def _object(self, schema: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        order = [p for p in schema.get("propertyOrdering") or [] if p in properties]
        order += [p for p in properties if p not in order]
        value = {prop: self.make(properties[prop], prop) for prop in order}
        self._order_pairs(value, {p: self._resolve(properties[p]) for p in order})
        return value

    def _order_pairs(self, value: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> None:
        """salary_min <= salary_max, start_date <= end_date: a low/high pair answered out of order is swapped when
        each value is valid for the other's schema, else the high one takes the low one's value (or the reverse)."""
        sides = {p: prompt_facts.side(p) for p in value}
        for low_name in [p for p in value if sides[p] == "low"]:
            topic = prompt_facts.topic_words(low_name)
            high_name = next((p for p in value if sides[p] == "high" and prompt_facts.topic_words(p) == topic), None)
            if high_name is None:
                continue
            low, high = value[low_name], value[high_name]
            comparable = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or all(
                isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}[\dT:.Z+-]*", v) for v in (low, high)
            )
            if not comparable or low <= high:
                continue
            fits_low = self._fits(high, schemas[low_name], low_name)
            fits_high = self._fits(low, schemas[high_name], high_name)
            if fits_low and fits_high:
                value[low_name], value[high_name] = high, low
            elif fits_high:
                value[high_name] = low
            elif fits_low:
                value[low_name] = high
            else:  # both take the lowest value both schemas allow, when there is one
                low_min, low_max, low_int = self._bounds(schemas[low_name], low_name)
                high_min, high_max, high_int = self._bounds(schemas[high_name], high_name)
                common = max(low_min, high_min)
                common = float(math.ceil(common)) if (low_int or high_int) and math.isfinite(common) else common
                if math.isfinite(common) and common <= min(low_max, high_max):
                    value[low_name] = value[high_name] = int(common) if low_int or high_int else common

    def _fits(self, value: Any, schema: dict[str, Any], name: str) -> bool:
        if isinstance(value, str):
            return True  # dates of one format: any of them fits the other
        low, high, integer = self._bounds(schema, name)
        return low <= value <= high and (not integer or float(value).is_integer())

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
        count = self.rng.randint(low, high) if high > low else low
        if _types(items) == ["string"] and not items.get("format") and not items.get("pattern"):
            # "Skills: Python, SQL and dbt" -> those items; else the prompt's keywords, each once
            listed = prompt_facts.listed(self.prompt, name)[:high]
            words = listed or self.signals.keywords(max(count, 1))
            if listed or any(k in name.lower() for k in ("keyword", "tag")):
                count = max(low, min(len(words), high))  # as many as the text gives
            count = max(low, min(count, len(words)))  # each word once unless minItems needs more
            words = [self._fit(w, items) for w in words] or [self._fit("none", items)]
            return [words[i % len(words)] for i in range(count)]
        return [self.make(items, name) for _ in range(count)]

    def _bounds(self, schema: dict[str, Any], name: str) -> tuple[float, float, bool]:
        """(low, high, integer) a value must keep, a side the schema leaves open being infinite: the schema's
        minimum/maximum (exclusive ones moved inward), else a range its description or the instruction gives for
        the field ("score from 1 to 5"), else one its name suggests (a rating 1-5, a confidence 0.5-0.99)."""
        integer = "integer" in _types(schema)
        lowered = name.lower()
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        if low is None and high is None:
            description = str(schema.get("description") or "")
            described = [m for m in prompt_facts.mentions(description) if m.is_range]
            hint = (
                (described[0].low, described[0].high)
                if described
                else prompt_facts.range_hint(self.instruction + "\n" + self.prompt, name)
                if name
                else None
            )
            if hint is not None:
                low, high = hint
            elif any(k in lowered for k in _RATING_NAMES) and integer:
                low, high = 1, 5
            elif any(k in lowered for k in ("confidence", "probability", "score")) and not integer:
                low, high = 0.5, 0.99
        low = float(low) if low is not None else -math.inf
        high = float(high) if high is not None else math.inf
        if isinstance(schema.get("exclusiveMinimum"), int | float):
            low += 1 if integer else 1e-6
        if isinstance(schema.get("exclusiveMaximum"), int | float):
            high -= 1 if integer else 1e-6
        if integer:
            low, high = (
                float(math.ceil(low)) if math.isfinite(low) else low,
                float(math.floor(high)) if math.isfinite(high) else high,
            )
        return low, high, integer

    def _number(self, schema: dict[str, Any], name: str, integer: bool) -> float:
        low, high, _ = self._bounds(schema, name)
        stated = self._stated_number(name, low, high, integer)
        if stated is not None:
            return stated
        # an open side: 100 beyond the other one, as before (1-100 / 0-100 when both are open)
        if not math.isfinite(low) and not math.isfinite(high):
            low, high = (1.0, 100.0) if integer else (0.0, 100.0)
        elif not math.isfinite(low):
            low = high - 100
        elif not math.isfinite(high):
            high = low + 100
        if any(k in name.lower() for k in _RATING_NAMES) and self.signals.sentiment:
            value = high if self.signals.sentiment > 0 else low
        else:
            value = self.rng.uniform(low, high)
        if integer:
            return float(min(max(round(value), low), high))
        return min(max(round(value, 2), low), high)

    def _stated_number(self, name: str, low: float, high: float, integer: bool) -> float | None:
        """The number the prompt gives for this field (near a word of its name), if it fits: a range's low end
        for salary_min, its high end for salary_max; a single number for a field without a side."""
        if not name:
            return None
        side = prompt_facts.side(name)
        for mention in prompt_facts.numbers_near(self.prompt, name):
            if side is None and mention.is_range:
                continue  # "1-5" bounds a score, it is not one
            value = mention.high if side == "high" else mention.low
            if low <= value <= high and (not integer or value.is_integer()):
                return value
        return None

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
            text = next(iter(prompt_facts.emails(self.prompt)), f"user{self.rng.randint(1, 999)}@example.com")
        elif fmt in ("uri", "url"):
            text = next(iter(prompt_facts.urls(self.prompt)), f"https://example.com/{self.rng.randint(1, 9999)}")
        elif fmt == "uuid":
            text = "%08x-%04x-4%03x-8%03x-%012x" % (  # noqa: UP031 - fixed-width hex fields
                self.rng.getrandbits(32), self.rng.getrandbits(16), self.rng.getrandbits(12),
                self.rng.getrandbits(12), self.rng.getrandbits(48),
            )  # fmt: skip
        elif "sentiment" in lowered:
            text = self.signals.label
        elif any(k in lowered for k in _SUMMARY_NAMES):
            text = self.signals.phrase()
        else:
            text = self._fact(name) or ""
        if not text:
            if any(k in lowered for k in ("title", "name", "headline", "subject")):
                text = " ".join(w.capitalize() for w in self.signals.keywords(3)) or "Untitled"
            else:
                text = " ".join(self.signals.keywords(3)) or "n/a"
        return self._fit(text, schema)

    def _fact(self, name: str) -> str | None:
        """What the prompt itself says this field is: a labelled value ("Location: Berlin"), else the currency,
        language, place, email, URL or headline the text names, by the field's name. None when it says nothing."""
        if not name:
            return None
        lowered = name.lower()
        words = set(prompt_facts.name_words(name))
        labelled = prompt_facts.labelled(self.prompt, name)
        if labelled and len(labelled.split()) <= 8:
            return labelled
        if "currency" in lowered:
            return prompt_facts.currency(self.prompt) or "USD"
        if "language" in lowered or words & {"lang", "locale"}:
            return prompt_facts.language(self.prompt) or "en"
        if words & {"location", "city", "place", "where", "country", "region", "town"}:
            return prompt_facts.place(self.prompt) or "unspecified"
        if "email" in lowered:
            return next(iter(prompt_facts.emails(self.prompt)), None)
        if words & {"url", "website", "link", "homepage"}:
            return next(iter(prompt_facts.urls(self.prompt)), None)
        if words & {"title", "headline", "role", "position", "job", "subject"}:
            return prompt_facts.headline(self.prompt)
        return None

    @staticmethod
    def _fit(text: str, schema: dict[str, Any]) -> str:
        """Pad or cut a string to the schema's minLength/maxLength."""
        min_len, max_len = schema.get("minLength"), schema.get("maxLength")
        if isinstance(min_len, int) and len(text) < min_len:
            text = text + "." * (min_len - len(text))
        if isinstance(max_len, int) and len(text) > max_len:
            text = text[:max_len]
        return text


def make_value(schema: dict[str, Any], prompt: str, rng: random.Random, instruction: str = "") -> Any:
    """A value valid against `schema`; same (schema, prompt, instruction, rng state) -> same value. `prompt` is what
    the answer is about (the last user turn), `instruction` the system instruction (bounds it states are kept)."""
    return ValueMaker(schema, prompt, rng, instruction).make(schema)
