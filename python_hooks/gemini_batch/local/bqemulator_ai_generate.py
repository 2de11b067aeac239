"""BigQuery's AI.GENERATE on the local BigQuery, answered by the Vertex emulator's responder.

Google's signature (cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-ai-generate):

    AI.GENERATE([prompt =>] PROMPT [, connection_id => 'CONNECTION'] [, endpoint => 'ENDPOINT']
                [, request_type => 'REQUEST_TYPE'] [, model_params => MODEL_PARAMS] [, output_schema => 'SCHEMA'])

PROMPT is a STRING or a STRUCT of STRING (and ObjectRef) values, its parts in order; ENDPOINT a Gemini model name
(gemini-2.5-flash) or a Vertex endpoint URL ending in .../models/<name>; MODEL_PARAMS a JSON literal in the
generateContent request body form (generationConfig, safetySettings, systemInstruction, ...; not `contents`, which
PROMPT fills); OUTPUT_SCHEMA a column list such as 'sentiment STRING, stars INT64'. It returns a STRUCT of `result`
(STRING; with OUTPUT_SCHEMA one field per schema column instead), `full_response` (JSON: the generateContent
response) and `status` (STRING, empty on success).

Here each call is rewritten, before bqemulator translates the query, into a Python function of the prompt parts
registered on its DuckDB connection (one per distinct endpoint/model_params/output_schema, which are constants), that
builds the generateContent request and answers it exactly as a batch job of the Vertex emulator answers a row
(gemini_batch.emulator.jobs.JobRunner._answer_row: the same responder, answers, token counts and row faults). The
emulator's current config is read from its /emulator/config when the stack gives --vertex-endpoint. What BigQuery
refuses when it reads the query (an unknown endpoint, model_params that are not a JSON object literal, an output
schema it cannot parse, an unknown argument) is refused here as an invalidQuery error before anything runs.
The local stack imports the emulator, never the hook.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.jobs import JobRunner
from gemini_batch.emulator.models import publisher_models
from gemini_batch.emulator.responders import Responder, make_responder
from gemini_batch.local.bqemulator_options import _matching_paren

_CALL = re.compile(r"\bAI\s*\.\s*GENERATE\s*\(", re.IGNORECASE)
_NAMED = re.compile(r"^\s*([A-Za-z_]\w*)\s*=>\s*(.*)$", re.DOTALL)
_STRING = re.compile(r"""^\s*(?:[rR])?('([^'\\]|\\.)*'|"([^"\\]|\\.)*")\s*$""", re.DOTALL)
_JSON_LITERAL = re.compile(r"""^\s*JSON\s+('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|'''.*?'''|\"\"\".*?\"\"\")\s*$""",
                           re.DOTALL | re.IGNORECASE)  # fmt: skip
_ENDPOINT_MODEL = re.compile(r"(?:^|/models/)(?P<model>[a-z0-9][a-z0-9.-]*)(?:@[\w.-]+)?$")
ARGUMENTS = ("prompt", "connection_id", "endpoint", "request_type", "model_params", "output_schema")
REQUEST_TYPES = {"DEDICATED", "SHARED", "UNSPECIFIED"}
# generateContent request body fields model_params may set (camelCase or snake_case); `contents` comes from PROMPT.
MODEL_PARAMS_FIELDS = {"generationConfig", "safetySettings", "systemInstruction", "tools", "toolConfig", "labels"}
DEFAULT_ENDPOINT = "gemini-2.5-flash"  # BigQuery picks a recent stable Gemini when endpoint is left out
# output_schema column types and the DuckDB type of the field; ARRAY<T> of these too
_SCALARS = {"STRING": "VARCHAR", "INT64": "BIGINT", "FLOAT64": "DOUBLE", "BOOL": "BOOLEAN"}
_GEMINI_TYPES = {"STRING": "STRING", "INT64": "INTEGER", "FLOAT64": "NUMBER", "BOOL": "BOOLEAN"}


class AiGenerateError(ValueError):
    """A call BigQuery refuses; the message is BigQuery's kind of invalidQuery message."""


@dataclass(frozen=True)
class OutputField:
    name: str
    type: str  # STRING, INT64, FLOAT64, BOOL
    repeated: bool = False

    @property
    def duckdb(self) -> str:
        return _SCALARS[self.type] + ("[]" if self.repeated else "")

    def schema(self) -> dict[str, Any]:
        scalar = {"type": _GEMINI_TYPES[self.type]}
        return {"type": "ARRAY", "items": scalar} if self.repeated else scalar

    def value(self, raw: Any) -> Any:
        if self.repeated:
            return [self._scalar(v) for v in raw] if isinstance(raw, list) else None
        return self._scalar(raw)

    def _scalar(self, raw: Any) -> Any:
        if self.type == "STRING":
            return raw if isinstance(raw, str) else None
        if self.type == "BOOL":
            return raw if isinstance(raw, bool) else None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            return None
        if self.type == "INT64":
            return int(raw) if float(raw).is_integer() else None
        return float(raw)


@dataclass(frozen=True)
class Call:
    prompt_parts: list[str]  # SQL expressions
    endpoint: str  # model id
    model_params: dict[str, Any]
    output_fields: tuple[OutputField, ...] = ()
    function: str = field(default="")

    def return_type(self) -> str:
        fields = [f'"{f.name}" {f.duckdb}' for f in self.output_fields] or ["result VARCHAR"]
        return f"STRUCT({', '.join(fields)}, full_response JSON, status VARCHAR)"


def _split_arguments(text: str) -> list[str]:
    """Top-level comma-separated arguments of a call's argument text (quotes and brackets respected)."""
    args, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
        elif text.startswith(('"""', "'''"), i):
            quote = text[i : i + 3]
            i += 3
            continue
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i])
            start = i + 1
        i += 1
    args.append(text[start:])
    return [a.strip() for a in args]


def _string_literal(value: str, argument: str) -> str:
    match = _STRING.match(value)
    if not match:
        raise AiGenerateError(f"AI.GENERATE argument {argument} must be a string literal, got: {value.strip()[:80]}")
    return str(json.loads('"' + match.group(1)[1:-1].replace('"', '\\"').replace("\\'", "'") + '"'))


def _endpoint(value: str) -> str:
    endpoint = _string_literal(value, "endpoint").strip()
    match = _ENDPOINT_MODEL.search(endpoint)
    if match is None or match["model"] not in publisher_models():
        # BigQuery checks the endpoint when it reads the query (an invalidQuery before any row is processed).
        raise AiGenerateError(
            f"Invalid endpoint '{endpoint}' in AI.GENERATE: not a supported Gemini model; "
            "give a model name such as 'gemini-2.5-flash' or a Vertex AI endpoint URL"
        )
    return match["model"]


def _model_params(value: str) -> dict[str, Any]:
    match = _JSON_LITERAL.match(value)
    if not match:
        raise AiGenerateError("AI.GENERATE argument model_params must be a JSON literal, such as JSON '{...}'")
    literal = match.group(1)
    text = literal[3:-3] if literal.startswith(("'''", '"""')) else literal[1:-1]
    try:
        params = json.loads(text.replace("\\'", "'"))
    except ValueError as exc:
        raise AiGenerateError(f"Invalid JSON literal in AI.GENERATE model_params: {exc}") from exc
    if not isinstance(params, dict):
        raise AiGenerateError("AI.GENERATE model_params must be a JSON object in the generateContent request form")
    for key in params:
        name = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)
        if name == "contents":
            raise AiGenerateError("AI.GENERATE model_params cannot set contents: the prompt argument fills it")
        if name not in MODEL_PARAMS_FIELDS:
            raise AiGenerateError(
                f"Invalid field '{key}' in AI.GENERATE model_params: use the generateContent request body fields "
                f"{', '.join(sorted(MODEL_PARAMS_FIELDS))}"
            )
    return params


def parse_output_schema(text: str) -> tuple[OutputField, ...]:
    """'name TYPE, ...' with STRING, INT64, FLOAT64, BOOL or ARRAY<one of them>; AiGenerateError otherwise."""
    fields: list[OutputField] = []
    for column in _split_arguments(text.replace("<", "(").replace(">", ")")):
        parts = column.split(None, 1)
        if len(parts) != 2 or not re.fullmatch(r"[A-Za-z_]\w*", parts[0]):
            raise AiGenerateError(f"Invalid output_schema '{text}' in AI.GENERATE: expected 'name TYPE, ...'")
        name, kind = parts[0], re.sub(r"\s+", "", parts[1]).upper()
        array = re.fullmatch(r"ARRAY\((\w+)\)", kind)
        scalar = array.group(1) if array else kind
        if scalar not in _SCALARS:
            raise AiGenerateError(
                f"Invalid output_schema '{text}' in AI.GENERATE: unsupported type {parts[1].strip()} for {name}"
            )
        if name.lower() in {f.name.lower() for f in fields} | {"full_response", "status"}:
            raise AiGenerateError(f"Invalid output_schema '{text}' in AI.GENERATE: duplicate or reserved name {name}")
        fields.append(OutputField(name, scalar, bool(array)))
    if not fields:
        raise AiGenerateError("Invalid output_schema '' in AI.GENERATE: expected 'name TYPE, ...'")
    return tuple(fields)


def parse_call(arguments: str) -> Call:
    """The arguments of one AI.GENERATE call (text between its parentheses)."""
    given: dict[str, str] = {}
    for position, arg in enumerate(_split_arguments(arguments)):
        named = _NAMED.match(arg)
        name, value = (named.group(1).lower(), named.group(2)) if named else ("prompt" if position == 0 else "", arg)
        if name not in ARGUMENTS:
            raise AiGenerateError(
                f"No matching signature for function AI.GENERATE: unknown argument {name or arg[:40]}; "
                f"supported: {', '.join(ARGUMENTS)}"
            )
        if name in given:
            raise AiGenerateError(f"AI.GENERATE argument {name} is given twice")
        given[name] = value
    if not given.get("prompt", "").strip():
        raise AiGenerateError("No matching signature for function AI.GENERATE: the prompt argument is required")
    prompt = given["prompt"].strip()
    parts = [prompt]
    if prompt.startswith("(") and _matching_paren(prompt, 0) == len(prompt) - 1:
        inner = _split_arguments(prompt[1:-1])
        parts = inner if len(inner) > 1 else parts
    if "request_type" in given and _string_literal(given["request_type"], "request_type").upper() not in REQUEST_TYPES:
        raise AiGenerateError(f"AI.GENERATE request_type must be one of {', '.join(sorted(REQUEST_TYPES))}")
    if "connection_id" in given:
        _string_literal(given["connection_id"], "connection_id")
    endpoint = _endpoint(given["endpoint"]) if "endpoint" in given else DEFAULT_ENDPOINT
    params = _model_params(given["model_params"]) if "model_params" in given else {}
    schema = given.get("output_schema")
    fields = parse_output_schema(_string_literal(schema, "output_schema")) if schema is not None else ()
    digest = hashlib.sha256(json.dumps([endpoint, params, [f.__dict__ for f in fields]], sort_keys=True).encode())
    return Call(parts, endpoint, params, fields, function=f"gemini_batch_ai_generate_{digest.hexdigest()[:16]}")


def rewrite(sql: str) -> tuple[str, list[Call]]:
    """The query with every AI.GENERATE(...) replaced by a call of its registered function; the calls found."""
    calls: list[Call] = []
    out, cursor = [], 0
    for match in _CALL.finditer(sql):
        if match.start() < cursor:
            continue
        close = _matching_paren(sql, match.end() - 1)
        if close is None:
            raise AiGenerateError("Syntax error: AI.GENERATE( has no closing parenthesis")
        call = parse_call(sql[match.end() : close])
        calls.append(call)
        parts = ", ".join(f"CAST({p} AS STRING)" for p in call.prompt_parts)
        out.append(sql[cursor : match.start()] + f"{call.function}([{parts}])")
        cursor = close + 1
    if not calls:
        return sql, []
    out.append(sql[cursor:])
    return "".join(out), calls


class Answerer:
    """Answers the prompt parts of one call as the Vertex emulator answers a batch row (JobRunner._answer_row)."""

    def __init__(self, vertex_endpoint: str | None) -> None:
        self.vertex_endpoint = vertex_endpoint
        self._lock = threading.Lock()
        self._responder: tuple[EmulatorConfig, Responder] | None = None

    def config(self) -> EmulatorConfig:
        """The emulator's current config (faults, seed, responder), read for every call: a test that changes the
        faults sees the next row follow them, as a batch job created after the change would."""
        if not self.vertex_endpoint:
            return EmulatorConfig()
        with urllib.request.urlopen(f"{self.vertex_endpoint}/emulator/config", timeout=10) as resp:  # noqa: S310 - loopback
            return EmulatorConfig.from_dict(json.loads(resp.read()))

    def responder(self, config: EmulatorConfig) -> Responder:
        with self._lock:
            if self._responder is None or self._responder[0] != config:
                if self._responder is not None:
                    self._responder[1].close()
                self._responder = (config, make_responder(config))
            return self._responder[1]

    def answer(self, call: Call, parts: list[str | None] | None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "contents": [{"role": "user", "parts": [{"text": p} for p in (parts or []) if p is not None]}],
            **call.model_params,
        }
        if call.output_fields:
            generation = dict(request.get("generationConfig") or request.pop("generation_config", None) or {})
            generation["responseMimeType"] = "application/json"
            generation["responseSchema"] = {
                "type": "OBJECT",
                "properties": {f.name: f.schema() for f in call.output_fields},
                "propertyOrdering": [f.name for f in call.output_fields],
            }
            request["generationConfig"] = generation
        config = self.config()
        row = JobRunner._answer_row(request, config, call.endpoint, self.responder(config))
        status, response = str(row["status"]), row["response"]
        out: dict[str, Any] = {"full_response": json.dumps(response) if response else None, "status": status}
        text = _answer_text(response) if not status else None
        if not call.output_fields:
            out["result"] = text
            return out
        try:
            parsed = json.loads(text) if text is not None else None
        except ValueError:
            parsed = None
        for f in call.output_fields:
            out[f.name] = f.value(parsed.get(f.name)) if isinstance(parsed, dict) else None
        return out


def _answer_text(response: dict[str, Any]) -> str | None:
    candidates = response.get("candidates") or [{}]
    parts = (candidates[0].get("content") or {}).get("parts") or []
    texts = [p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought")]
    return "".join(texts) if texts else None


class Registry:
    """The functions registered on bqemulator's DuckDB connection, one per distinct call."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.answerer = Answerer(None)
        self._registered: set[str] = set()
        self._lock = threading.Lock()

    def register(self, call: Call) -> None:
        with self._lock:
            if call.function in self._registered or self.connection is None:
                return
            answerer = self.answerer

            def generate(parts: list[str | None] | None) -> dict[str, Any]:
                return answerer.answer(call, parts)

            self.connection.create_function(
                call.function, generate, ["VARCHAR[]"], call.return_type(), null_handling="special",
                side_effects=True,
            )  # fmt: skip
            self._registered.add(call.function)


REGISTRY = Registry()


def install(vertex_endpoint: str | None = None) -> None:
    """Rewrite AI.GENERATE before bqemulator translates a query, and keep its DuckDB connection for the functions."""
    from bqemulator.domain.result import Err
    from bqemulator.sql import translator
    from bqemulator.sql.errors import InvalidQueryError
    from bqemulator.storage import engine

    REGISTRY.answerer = Answerer(vertex_endpoint)
    if getattr(translator.SQLTranslator, "_gemini_batch_ai_generate", False):
        return
    register_udfs = engine.DuckDBEngine._register_builtin_udfs

    def register_with_connection(self: Any) -> None:
        register_udfs(self)
        REGISTRY.connection = self._connection

    engine.DuckDBEngine._register_builtin_udfs = register_with_connection  # type: ignore[method-assign]
    translate = translator.SQLTranslator.translate

    def translate_ai_generate(self: Any, bq_sql: str, **kwargs: Any) -> Any:
        if _CALL.search(bq_sql):
            try:
                bq_sql, calls = rewrite(bq_sql)
            except AiGenerateError as exc:
                return Err(InvalidQueryError(str(exc)))
            for call in calls:
                REGISTRY.register(call)
        return translate(self, bq_sql, **kwargs)

    translator.SQLTranslator.translate = translate_ai_generate  # type: ignore[method-assign]
    translator.SQLTranslator._gemini_batch_ai_generate = True  # type: ignore[attr-defined]
