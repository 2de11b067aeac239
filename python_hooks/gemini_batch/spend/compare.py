"""`dbt-gemini-batch compare --select m --sample N` with a variant: what a prompt, system instruction, generation
config or Gemini model change would answer and cost, learnt on a sample before the whole model pays for it.

  1. The sample: N rows of m whose current answer succeeded, in hash order (stable from one compare to the next).
  2. Their requests under the variant: another dbt model's requests for the same keys (--from-model, a changed prompt:
     hashed exactly as the materialization would hash them), and/or --system-instruction / --generation-config
     merged into each request, and/or --gemini-model. They are written to m__comparison_requests.
  3. The plan of those requests is shown (count, likely cost), then they go out as an ordinary batch flight
     (flight.py) of a ComparisonNode: the spend guards apply, and the answers land in m__responses, the model's
     answer cache, under their own hashes. A variant given as --gemini-model and/or --from-model hashes exactly as the
     materialization would after the switch, so switching later pays for none of the sampled rows again.
  4. Each sampled row's variant answer is compared with its current one, field by field (the answer's JSON fields,
     or `text` for a text answer): strings compared trimmed and case-folded, numbers rounded to 2 decimals, arrays as
     sets. Rows go to the table m__comparisons (a row per sampled key and variant, replaced when the same variant is
     compared again) for dbt tests to gate on, and the summary to target/gemini_batch_compare.json.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.cloud import bigquery

from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.prices import estimate_cost, normalize_model
from gemini_batch.progress import Progress
from gemini_batch.settings import BatchSettings

COMPARE_FILE = "gemini_batch_compare.json"
COMPARISON_SUFFIX = "__comparison"
COMPARISONS_SCHEMA = [
    bigquery.SchemaField("variant", "STRING"),
    bigquery.SchemaField("compared_at", "TIMESTAMP"),
    bigquery.SchemaField("row_key", "STRING"),
    bigquery.SchemaField("current_model", "STRING"),
    bigquery.SchemaField("variant_model", "STRING"),
    bigquery.SchemaField("current_request_hash", "STRING"),
    bigquery.SchemaField("variant_request_hash", "STRING"),
    bigquery.SchemaField("variant_answered", "BOOL"),
    bigquery.SchemaField("agrees", "BOOL"),
    bigquery.SchemaField("changed_fields", "STRING"),
    bigquery.SchemaField("current_answer", "STRING"),
    bigquery.SchemaField("variant_answer", "STRING"),
    bigquery.SchemaField("current_output_tokens", "INT64"),
    bigquery.SchemaField("variant_output_tokens", "INT64"),
    bigquery.SchemaField("current_cost_usd", "FLOAT64"),
    bigquery.SchemaField("variant_cost_usd", "FLOAT64"),
]
REQUESTS_SCHEMA = [
    bigquery.SchemaField("row_key", "STRING"),
    bigquery.SchemaField("request", "STRING"),
    bigquery.SchemaField("request_hash", "STRING"),
]


class CompareError(ValueError):
    """A variant or sample that cannot be compared; the message says what to change."""


@dataclass(frozen=True)
class Variant:
    name: str
    gemini_model: str | None = None
    system_instruction: str | None = None
    generation_config: dict[str, Any] = field(default_factory=dict)
    from_model: str | None = None

    def describe(self) -> str:
        parts = []
        if self.from_model:
            parts.append(f"requests of {self.from_model}")
        if self.gemini_model:
            parts.append(f"gemini_model={self.gemini_model}")
        if self.system_instruction is not None:
            parts.append("system instruction replaced")
        if self.generation_config:
            parts.append(f"generation config {json.dumps(self.generation_config, sort_keys=True)}")
        return ", ".join(parts)


@dataclass(frozen=True)
class ComparisonNode(BatchNode):
    """A sample of `m` asked under a variant: its requests are m__comparison_requests, its answers m's cache."""

    @property
    def requests_table(self) -> str:
        return self.table("__comparison_requests")


def comparison_node(node: BatchNode) -> ComparisonNode:
    return ComparisonNode(
        unique_id=node.unique_id + COMPARISON_SUFFIX,
        name=node.name + COMPARISON_SUFFIX,
        database=node.database,
        schema=node.schema,
        alias=node.alias,
        config=node.config,
    )


def _camel(key: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key)


def apply_variant(request_text: str, variant: Variant) -> str:
    """A request under the variant's system instruction and generation config (the text itself when neither is
    given, so its hash is the materialization's)."""
    if variant.system_instruction is None and not variant.generation_config:
        return request_text
    body = json.loads(request_text)
    if variant.system_instruction is not None:
        body.pop("system_instruction", None)
        body["systemInstruction"] = {"parts": [{"text": variant.system_instruction}]}
    if variant.generation_config:
        config = {_camel(k): v for k, v in (body.pop("generation_config", None) or {}).items()}
        config.update({_camel(k): v for k, v in (body.get("generationConfig") or {}).items()})
        config.update({_camel(k): v for k, v in variant.generation_config.items()})
        body["generationConfig"] = config
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def request_hash(gemini_model: str, request_text: str) -> str:
    """The materialization's request_hash (_create_requests_table.sql): sha256(model + newline + request text)."""
    return hashlib.sha256(f"{gemini_model}\n{request_text}".encode()).hexdigest()


# -- answers -------------------------------------------------------------------------------------------------------
def answer_fields(response: Any) -> dict[str, Any] | None:
    """The answer's fields: its JSON object's top-level fields, or {'text': ...} for a text answer; None without one."""
    if isinstance(response, str):
        response = json.loads(response)
    if not isinstance(response, dict):
        return None
    candidates = response.get("candidates") or []
    if not candidates:
        return None
    parts = (candidates[0].get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if isinstance(p, dict) and not p.get("thought"))
    try:
        value = json.loads(text)
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"text": value}


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return round(float(value), 2)
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    if isinstance(value, list):
        return sorted(json.dumps(_normal(v), sort_keys=True) for v in value)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def changed_fields(current: dict[str, Any], variant: dict[str, Any]) -> list[str]:
    """The fields whose values differ (after normalising), over the fields either answer has."""
    names = list(dict.fromkeys([*current, *variant]))
    return [n for n in names if _normal(current.get(n)) != _normal(variant.get(n))]


def usage(response: Any) -> tuple[int, int, int, int]:
    """(prompt, output, thinking, cached) tokens Vertex reported for one answer."""
    if isinstance(response, str):
        response = json.loads(response)
    meta = (response or {}).get("usageMetadata") or {}
    return (
        int(meta.get("promptTokenCount") or 0),
        int(meta.get("candidatesTokenCount") or 0),
        int(meta.get("thoughtsTokenCount") or 0),
        int(meta.get("cachedContentTokenCount") or 0),
    )


def cost(gemini_model: str, tokens: tuple[int, int, int, int]) -> float | None:
    return estimate_cost(
        normalize_model(gemini_model),
        dt.datetime.now(dt.UTC).date(),
        prompt_tokens=tokens[0],
        output_tokens=tokens[1],
        thoughts_tokens=tokens[2],
        cached_tokens=tokens[3],
    )


# -- the steps -----------------------------------------------------------------------------------------------------
def sample_rows(ctx: BatchContext, node: BatchNode, keys: list[str], size: int) -> list[dict[str, Any]]:
    """Up to `size` rows of the model with a successful current answer, in hash order."""
    key_json = "to_json_string(struct(" + ", ".join(f"requests.`{k}`" for k in keys) + "))"
    rows = ctx.sql(
        f"""
        select {key_json} as row_key, requests.request, requests.request_hash
        from `{node.requests_table}` as requests
        inner join `{node.responses_table}` as answers
            on requests.request_hash = answers.request_hash and answers.status = ''
        order by farm_fingerprint(requests.request_hash), row_key
        limit {size:d}
        """,
        node=node.unique_id,
    )
    return [dict(row) for row in rows]


def variant_requests(
    ctx: BatchContext,
    node: BatchNode,
    keys: list[str],
    sample: list[dict[str, Any]],
    variant: Variant,
    compiled_sql: str | None,
) -> dict[str, str]:
    """row_key -> the variant's request text for every sampled row (a row the variant model lacks is an error)."""
    if compiled_sql is None:
        return {row["row_key"]: apply_variant(row["request"], variant) for row in sample}
    schema = ctx.bq.query(f"select * from ({compiled_sql}) limit 0").result().schema
    types = {f.name: f.field_type.upper() for f in schema}
    missing = [k for k in [*keys, "request"] if k not in types]
    if missing:
        raise CompareError(
            f"--from-model {variant.from_model} has no column(s) {', '.join(missing)}: it must select the key "
            f"columns of {node.name} ({', '.join(keys)}) and `request`"
        )
    text = "to_json_string(variant.request)" if types["request"] == "JSON" else "variant.request"
    key_json = "to_json_string(struct(" + ", ".join(f"variant.`{k}`" for k in keys) + "))"
    job = ctx.bq.query(
        f"""
        select {key_json} as row_key, any_value({text}) as request
        from ({compiled_sql}) as variant
        where {key_json} in unnest(@row_keys)
        group by row_key
        """,
        job_config=ctx.query_defaults.config(
            [bigquery.ArrayQueryParameter("row_keys", "STRING", [r["row_key"] for r in sample])], node=node.unique_id
        ),
    )
    found = {row["row_key"]: apply_variant(row["request"], variant) for row in job.result()}
    lacking = [r["row_key"] for r in sample if r["row_key"] not in found]
    if lacking:
        raise CompareError(
            f"--from-model {variant.from_model} has no row for {len(lacking)} sampled key(s) of {node.name}, e.g. "
            f"{lacking[0]}; it must select the same keys"
        )
    return found


def write_comparison_requests(ctx: BatchContext, tier: ComparisonNode, rows: list[dict[str, Any]]) -> None:
    config = bigquery.LoadJobConfig(schema=REQUESTS_SCHEMA, write_disposition="WRITE_TRUNCATE")
    ctx.bq.load_table_from_json(rows, tier.requests_table, job_config=config).result()


def responses_by_hash(ctx: BatchContext, node: BatchNode, hashes: list[str]) -> dict[str, dict[str, Any]]:
    job = ctx.bq.query(
        f"""
        select request_hash, status, to_json_string(response) as response
        from `{node.responses_table}`
        where request_hash in unnest(@hashes)
        """,
        job_config=ctx.query_defaults.config(
            [bigquery.ArrayQueryParameter("hashes", "STRING", hashes)], node=node.unique_id
        ),
    )
    return {row["request_hash"]: {"status": row["status"], "response": row["response"]} for row in job.result()}


def compare_rows(
    sample: list[dict[str, Any]],
    variant_hashes: dict[str, str],
    answers: dict[str, dict[str, Any]],
    variant: Variant,
    current_model: str,
    variant_model: str,
) -> list[dict[str, Any]]:
    """A row of m__comparisons per sampled key."""
    now = dt.datetime.now(dt.UTC).isoformat()
    out = []
    for row in sample:
        current = answers.get(row["request_hash"]) or {}
        candidate = answers.get(variant_hashes[row["row_key"]]) or {}
        answered = candidate.get("status") == ""
        now_fields = answer_fields(current.get("response")) or {}
        new_fields = (answer_fields(candidate.get("response")) or {}) if answered else {}
        changed = changed_fields(now_fields, new_fields) if answered else sorted(now_fields)
        current_tokens = usage(current.get("response"))
        variant_tokens = usage(candidate.get("response")) if answered else (0, 0, 0, 0)
        out.append(
            {
                "variant": variant.name,
                "compared_at": now,
                "row_key": row["row_key"],
                "current_model": current_model,
                "variant_model": variant_model,
                "current_request_hash": row["request_hash"],
                "variant_request_hash": variant_hashes[row["row_key"]],
                "variant_answered": answered,
                "agrees": answered and not changed,
                "changed_fields": ",".join(changed),
                "current_answer": json.dumps(now_fields, ensure_ascii=False),
                "variant_answer": json.dumps(new_fields, ensure_ascii=False) if answered else None,
                "current_output_tokens": current_tokens[1] + current_tokens[2],
                "variant_output_tokens": variant_tokens[1] + variant_tokens[2],
                "current_cost_usd": cost(current_model, current_tokens),
                "variant_cost_usd": cost(variant_model, variant_tokens) if answered else None,
                "_current_tokens": current_tokens,
                "_variant_tokens": variant_tokens,
                "_fields": list(dict.fromkeys([*now_fields, *new_fields])),
            }
        )
    return out


def summarize(rows: list[dict[str, Any]], distinct_requests: int, cached_for_variant: int) -> dict[str, Any]:
    """Agreement per field, changed share, tokens and cost per 1,000 rows for both, and the cost of switching."""
    answered = [r for r in rows if r["variant_answered"]]
    fields = list(dict.fromkeys(f for r in answered for f in r["_fields"]))
    per_field = {
        f: round(sum(1 for r in answered if f not in r["changed_fields"].split(",")) / len(answered), 4)
        for f in fields
    } if answered else {}  # fmt: skip
    n = len(answered)

    def per_1000(key: str) -> dict[str, Any]:
        tokens = [r[f"_{key}_tokens"] for r in answered]
        costs = [r[f"{key}_cost_usd"] for r in answered]
        known = n and all(c is not None for c in costs)
        return {
            "input_tokens": round(sum(t[0] for t in tokens) / n * 1000) if n else None,
            "output_tokens": round(sum(t[1] + t[2] for t in tokens) / n * 1000) if n else None,
            "cost_usd": round(sum(costs) / n * 1000, 6) if known else None,
        }

    variant = per_1000("variant")
    per_row = variant["cost_usd"] / 1000 if variant["cost_usd"] is not None else None
    remaining = max(distinct_requests - cached_for_variant, 0)
    return {
        "sampled": len(rows),
        "variant_answered": n,
        "agreement_by_field": per_field,
        "changed_share": round(sum(1 for r in answered if not r["agrees"]) / n, 4) if n else None,
        "per_1000_rows": {"current": per_1000("current"), "variant": variant},
        "switch": {
            "distinct_requests": distinct_requests,
            "already_answered_under_variant": cached_for_variant,
            "to_send": remaining,
            "projected_cost_usd": round(per_row * remaining, 6) if per_row is not None else None,
        },
    }


def write_comparisons(ctx: BatchContext, node: BatchNode, variant: Variant, rows: list[dict[str, Any]]) -> str:
    """Replace the variant's rows in m__comparisons (created when missing)."""
    table = node.table("__comparisons")
    columns = ", ".join(f"{f.name} {f.field_type}" for f in COMPARISONS_SCHEMA)
    ctx.sql(f"create table if not exists `{table}` ({columns})", node=node.unique_id)
    ctx.sql(f"delete from `{table}` where variant = @variant", node=node.unique_id, variant=variant.name)
    public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    config = bigquery.LoadJobConfig(schema=COMPARISONS_SCHEMA, write_disposition="WRITE_APPEND")
    ctx.bq.load_table_from_json(public, table, job_config=config).result()
    return table


def variant_settings(settings: BatchSettings, variant: Variant) -> BatchSettings:
    """The model's settings under the variant; no cascade (a sample compares one model's answers)."""
    return dataclasses.replace(
        settings, gemini_model=variant.gemini_model or settings.gemini_model, escalate_to=None, escalate_when=None
    )


def print_summary(progress: Progress, model: str, variant: Variant, summary: dict[str, Any]) -> None:
    current, new = summary["per_1000_rows"]["current"], summary["per_1000_rows"]["variant"]
    lines = [
        f"{model}: variant {variant.name!r} ({variant.describe()}) on {summary['sampled']} sampled rows, "
        f"{summary['variant_answered']} answered",
        f"  changed share: {summary['changed_share']}",
    ]
    lines += [f"  agree {f}: {share:.0%}" for f, share in summary["agreement_by_field"].items()]
    for name, figures in (("current", current), ("variant", new)):
        lines.append(
            f"  {name} per 1,000 rows: {figures['input_tokens']} input tokens, {figures['output_tokens']} output "
            f"tokens, ${figures['cost_usd']}"
        )
    switch = summary["switch"]
    lines.append(
        f"  switching the whole model: {switch['to_send']} requests to send "
        f"({switch['already_answered_under_variant']} already answered by this compare), about "
        f"${switch['projected_cost_usd']}"
    )
    progress.say("\n".join(lines))


def write_json(target_dir: Path, model: str, variant: Variant, summary: dict[str, Any], table: str) -> Path:
    path = target_dir / COMPARE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "model": model,
        "variant": dataclasses.asdict(variant),
        "table": table,
        **summary,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path
