"""The `filter` of batchPredictionJobs.list: an AIP-160 expression compiled into a predicate over jobs.

Vertex documents: display_name (=, != and `:` with `*` wildcards), state (=, !=), create_time (=, !=, <, <=,
>, >=, RFC 3339), labels.key=value and labels.key:* (existence), combined with AND, OR, NOT / '-' and
parentheses. As in AIP-160, OR binds tighter than AND ("a AND b OR c" is "a AND (b OR c)") and juxtaposition
means AND. Field names are accepted in snake_case or camelCase. Anything else is a syntax error, so a typo
cannot silently match every job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gemini_batch.emulator.clock import parse_rfc3339

Predicate = Callable[[dict[str, Any]], bool]

JOB_STATES = [
    "JOB_STATE_UNSPECIFIED", "JOB_STATE_QUEUED", "JOB_STATE_PENDING", "JOB_STATE_RUNNING",
    "JOB_STATE_SUCCEEDED",
    "JOB_STATE_FAILED", "JOB_STATE_CANCELLING", "JOB_STATE_CANCELLED", "JOB_STATE_PAUSED",
    "JOB_STATE_EXPIRED",
    "JOB_STATE_UPDATING", "JOB_STATE_PARTIALLY_SUCCEEDED",
]  # fmt: skip

_STRING_FIELDS = {"display_name": "displayName", "model": "model"}
_TIME_FIELDS = {
    "create_time": "createTime",
    "update_time": "updateTime",
    "start_time": "startTime",
    "end_time": "endTime",
}
_COMPARATORS = ("<=", ">=", "!=", "=", "<", ">", ":")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\() | (?P<rparen>\)) |
        (?P<op><=|>=|!=|=|<|>|:) |
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*') |
        (?P<text>[^\s()=!<>:"']+)
    )""",
    re.VERBOSE,
)


class FilterError(ValueError):
    """The filter does not parse or names a field/operator the list method does not support."""


@dataclass(frozen=True)
class _Token:
    kind: str  # lparen, rparen, op, string, text, end
    value: str


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FilterError(f"unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(_Token(kind, value))
        pos = match.end()
    tokens.append(_Token("end", ""))
    return tokens


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.DOTALL)


def _state_value(value: str) -> str:
    if value.isdigit() and int(value) < len(JOB_STATES):
        return JOB_STATES[int(value)]
    name = value if value.startswith("JOB_STATE_") else f"JOB_STATE_{value}"
    if name not in JOB_STATES:
        raise FilterError(f"unknown job state {value!r}")
    return name


def _time(value: str) -> datetime:
    try:
        return parse_rfc3339(value)
    except ValueError as exc:
        raise FilterError(f"time {value!r} is not RFC 3339, e.g. 2024-05-18T00:00:00Z") from exc


def _compare(op: str, left: Any, right: Any) -> bool:
    return bool(
        {
            "=": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    )


def _restriction(field: str, op: str, value: str) -> Predicate:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", field).lower()
    if snake in _STRING_FIELDS:
        key = _STRING_FIELDS[snake]
        if op in ("=", "!="):
            return lambda job: (job.get(key, "") == value) == (op == "=")
        if op == ":":
            pattern = _glob(value)
            return lambda job: bool(pattern.match(job.get(key, "")))
        raise FilterError(f"{field} supports =, != and :, not {op}")
    if snake == "state":
        if op not in ("=", "!="):
            raise FilterError(f"state supports = and !=, not {op}")
        state = _state_value(value)
        return lambda job: (job.get("state") == state) == (op == "=")
    if snake in _TIME_FIELDS:
        key = _TIME_FIELDS[snake]
        if op == ":":
            raise FilterError(f"{field} supports =, !=, <, <=, >, >=")
        moment = _time(value)

        def by_time(job: dict[str, Any]) -> bool:
            stamp = job.get(key)
            if not stamp:
                return op == "!="
            return _compare(op, parse_rfc3339(stamp), moment)

        return by_time
    if snake == "labels" and op == ":":
        return lambda job: value in job.get("labels", {})
    if snake.startswith("labels."):
        label = field.split(".", 1)[1]
        if not label:
            raise FilterError("labels.<key> needs a key")
        if op == ":":
            if value == "*":
                return lambda job: label in job.get("labels", {})
            return lambda job: job.get("labels", {}).get(label) == value
        if op in ("=", "!="):
            return lambda job: (job.get("labels", {}).get(label) == value) == (op == "=")
        raise FilterError(f"labels support =, != and :, not {op}")
    raise FilterError(
        f"unsupported filter field {field!r}; use display_name, state, create_time, update_time, labels.<key> or model"
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def is_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "text" and token.value == word

    def expression(self) -> Predicate:
        parts = [self.sequence()]
        while self.is_keyword("AND"):
            self.take()
            parts.append(self.sequence())
        return parts[0] if len(parts) == 1 else (lambda job: all(p(job) for p in parts))

    def sequence(self) -> Predicate:
        parts = [self.factor()]
        while self.peek().kind in ("text", "string", "lparen") and not self.is_keyword("AND"):
            if self.is_keyword("OR"):
                raise FilterError("OR without a left operand")
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda job: all(p(job) for p in parts))

    def factor(self) -> Predicate:
        parts = [self.term()]
        while self.is_keyword("OR"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda job: any(p(job) for p in parts))

    def term(self) -> Predicate:
        token = self.peek()
        if token.kind == "text" and token.value == "NOT":
            self.take()
            inner = self.simple()
            return lambda job: not inner(job)
        if token.kind == "text" and token.value.startswith("-") and len(token.value) > 1:
            # "-field=value": negation written as a prefix minus
            self.tokens[self.pos] = _Token("text", token.value[1:])
            inner = self.simple()
            return lambda job: not inner(job)
        return self.simple()

    def simple(self) -> Predicate:
        token = self.take()
        if token.kind == "lparen":
            inner = self.expression()
            if self.take().kind != "rparen":
                raise FilterError("missing ')'")
            return inner
        if token.kind != "text" or token.value in ("AND", "OR", "NOT"):
            raise FilterError(f"expected a field name, got {token.value or 'end of filter'!r}")
        op = self.take()
        if op.kind != "op":
            raise FilterError(f"expected a comparator after {token.value!r}")
        value = self.take()
        if value.kind not in ("text", "string"):
            raise FilterError(f"expected a value after {token.value}{op.value}")
        return _restriction(token.value, op.value, value.value)


def compile_filter(text: str | None) -> Predicate:
    """Compile a list filter (empty matches every job); raise FilterError on anything unsupported."""
    if not text or not text.strip():
        return lambda job: True
    parser = _Parser(text)
    predicate = parser.expression()
    if parser.peek().kind != "end":
        raise FilterError(f"unexpected {parser.peek().value!r} after a complete expression")
    return predicate
