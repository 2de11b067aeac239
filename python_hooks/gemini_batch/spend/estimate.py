"""The plan of one gemini_batch model: what a run would send, why, and what it would cost. Nothing is submitted.

Counts use batch/plan.py's PENDING_CONDITION, so "to send" is by construction what submit.py sends.

Two sources for the model's rows:
  * `dbt-gemini-batch plan`: the model's SQL compiled by dbt (nothing built), hashed here exactly as the
    materialization hashes it; m__requests still holds the previous run's rows, so a key answered before whose
    request changed is known (re-sent).
  * the hook, after dbt has rebuilt m__requests (guards before submit): the rows are final, the previous run's key ->
    hash mapping is gone, so "re-sent" is the key-free measure: new hashes, at most as many as the answers that no
    row uses any more (what a prompt change leaves behind).
The key of a row is the model's `unique_key` setting when set, else every column except `request` (documented in
the README).

Input tokens come from Vertex countTokens (LlmUtilityServiceClient.count_tokens) on up to SAMPLE_SIZE pending
requests; beyond that the sample's tokens per request character are extrapolated to every pending request (labelled).
Without countTokens (unreachable, tuned model) the estimate is request characters / 4, labelled as such.
Output tokens come as a low and a likely figure, with maxOutputTokens' ceiling beside them (never what a guard trips
on): from the model's own answered history when it has one (average and 10th percentile of its answers' output and
thinking tokens), else from the bound the pending requests imply (spend/output_bound.py: the output_schema, the
model's typical text length and thinking from the price registry, the thinking budget).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1

from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.plan import PENDING_CONDITION, count_sql, request_counts
from gemini_batch.batch.published_counts import RequestCounts
from gemini_batch.dbt_project import BatchNode
from gemini_batch.prices import estimate_cost, normalize_model, price_for
from gemini_batch.settings import BatchSettings
from gemini_batch.spend.output_bound import DEFAULT_MAX_OUTPUT_TOKENS, OutputTokens, request_output_tokens

# Columns of m__requests never part of a row's default key: the materialization's _not_key_columns
# (macros/materializations/gemini_batch/_create_requests_table.sql) lists the same.
NOT_KEY_COLUMNS = (
    "request", "request_hash", "escalation_hash", "gemini_batch_response_schema", "gemini_batch_state",
    "gemini_batch_first", "gemini_batch_previous_key", "gemini_batch_previous_hashes",
)  # fmt: skip

log = logging.getLogger(__name__)

SAMPLE_SIZE = 50  # countTokens calls per model; more rows are extrapolated from this sample
CHARS_PER_TOKEN = 4  # the rough fallback, labelled as such wherever it is used
_MAX_OUTPUT = (
    "coalesce(safe_cast(json_value(request, '$.generationConfig.maxOutputTokens') as int64), "
    "safe_cast(json_value(request, '$.generation_config.max_output_tokens') as int64), @default_max_output)"
)


@dataclass
class ModelPlan:
    model: str
    gemini_model: str
    rows: int = 0
    distinct_requests: int = 0
    answered: int = 0
    new: int = 0
    retries_due: int = 0
    given_up: int = 0
    resent_changed: int = 0  # new hashes for keys answered before (part of `new`)
    answered_before: int = 0  # keys (plan) or answers (hook) the re-sent share is measured against
    input_tokens: int = 0
    input_tokens_source: str = ""
    output_tokens: int = 0  # likely
    thinking_tokens: int = 0  # likely
    output_tokens_low: int = 0
    thinking_tokens_low: int = 0
    output_tokens_ceiling: int = 0  # maxOutputTokens of every request to send
    thinking_tokens_ceiling: int = 0  # the thinking budget of every request to send (estimated from the sample)
    output_tokens_source: str = ""
    estimated_cost_usd: float | None = None  # likely: what guards compare
    estimated_cost_low_usd: float | None = None
    estimated_cost_ceiling_usd: float | None = None

    @property
    def to_send(self) -> int:
        return self.new + self.retries_due

    @property
    def resend_share(self) -> float:
        return self.resent_changed / self.answered_before if self.answered_before else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "to_send": self.to_send, "resend_share": round(self.resend_share, 4)}


def compiled_source(ctx: BatchContext, node: BatchNode, settings: BatchSettings, compiled_sql: str) -> str:
    """The model's compiled SQL as m__requests would hold it: request as JSON text plus the same request_hash
    (macros/materializations/gemini_batch/_create_requests_table.sql)."""
    schema = ctx.bq.query(f"select * from ({compiled_sql}) limit 0").result().schema
    types = {f.name: f.field_type.upper() for f in schema}
    text = "to_json_string(request)" if types.get("request") == "JSON" else "request"
    model = json.dumps(settings.gemini_model)
    return (
        f"select src.* except (request), {text} as request, "
        f"to_hex(sha256(concat({model}, '\\n', {text}))) as request_hash from ({compiled_sql}) as src"
    )


def plan_model(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    counter: aiplatform_v1.LlmUtilityServiceClient | None,
    compiled_sql: str | None = None,
    estimate: bool = True,
    counts: RequestCounts | None = None,
) -> ModelPlan:
    """The plan of one model: from its compiled SQL (plan command) or from m__requests as built (hook).

    estimate=False leaves out tokens and cost (the hook when no cost guard is set: fewer queries per model).
    counts: the hook's count of m__requests against the cache made just before (batch/plan.py count_requests), taken
    instead of a second count of the same hashes (each reads the hash columns of both tables)."""
    # A FROM item: the table itself (bqemulator cannot bind a project-qualified table inside a derived table), or the
    # compiled model as a derived table.
    source = f"`{node.requests_table}`"
    if compiled_sql:
        source = f"({compiled_source(ctx, node, settings, compiled_sql)})"
    has_answers = ctx.table_exists(node.responses_table)
    responses = (
        f"`{node.responses_table}`"
        if has_answers
        else "(select cast(null as string) as request_hash, cast(null as string) as status, "
        "cast(null as int64) as attempts limit 0)"
    )
    plan = ModelPlan(model=node.name, gemini_model=settings.gemini_model)
    params = {"max_attempts": settings.max_attempts, "default_max_output": DEFAULT_MAX_OUTPUT_TOKENS}
    # counted here for the plan command's compiled model, or without the hook's own count (one the materialization
    # handed over has no answered/new/retries split)
    if counts is None or compiled_sql is not None or counts.answered is None:
        row = ctx.sql(count_sql(source, responses), node=node.unique_id, max_attempts=settings.max_attempts)[0]
        counts = request_counts(row)
    plan.rows, plan.distinct_requests, plan.given_up = counts.rows, counts.hashes, counts.exhausted
    plan.answered, plan.new, plan.retries_due = counts.answered or 0, counts.new or 0, counts.retries_due or 0
    if has_answers:
        _resent(ctx, node, settings, plan, source, compiled_sql is not None)
    pending = f"""
        select requests.request_hash, any_value(requests.request) as request
        from {source} as requests
        left join {responses} as responses on requests.request_hash = responses.request_hash
        where requests.request_hash is not null and {PENDING_CONDITION}
        group by requests.request_hash
    """
    if not estimate:
        plan.estimated_cost_usd = None
        plan.input_tokens_source = plan.output_tokens_source = "not estimated (no max_estimated_cost_usd)"
    elif plan.to_send:
        # Hash order is as good as random and stable from one plan to the next.
        sample = [
            str(row["request"])
            for row in ctx.sql(
                f"select request from ({pending}) order by request_hash limit {SAMPLE_SIZE:d}",
                node=node.unique_id,
                **params,
            )
        ]
        _input_tokens(ctx, node, settings, plan, pending, sample, counter, params)
        _output_tokens(ctx, node, settings, plan, pending, sample, has_answers, params)
        model, today = normalize_model(settings.gemini_model), dt.datetime.now(dt.UTC).date()

        def cost(output: int, thinking: int) -> float | None:
            return estimate_cost(
                model, today, prompt_tokens=plan.input_tokens, output_tokens=output, thoughts_tokens=thinking
            )

        plan.estimated_cost_usd = cost(plan.output_tokens, plan.thinking_tokens)
        plan.estimated_cost_low_usd = cost(plan.output_tokens_low, plan.thinking_tokens_low)
        plan.estimated_cost_ceiling_usd = cost(plan.output_tokens_ceiling, plan.thinking_tokens_ceiling)
    else:
        plan.estimated_cost_usd = plan.estimated_cost_low_usd = plan.estimated_cost_ceiling_usd = 0.0
    return plan


def key_columns(ctx: BatchContext, node: BatchNode, settings: BatchSettings) -> list[str]:
    """The row key: the model's unique_key setting, else every column of m__requests but NOT_KEY_COLUMNS."""
    configured = settings.unique_key
    if configured:
        return [configured] if isinstance(configured, str) else list(configured)
    schema = ctx.bq.get_table(node.requests_table).schema
    return [f.name for f in schema if f.name not in NOT_KEY_COLUMNS]


def _resent(
    ctx: BatchContext, node: BatchNode, settings: BatchSettings, plan: ModelPlan, source: str, compiled: bool
) -> None:
    if compiled:
        if not ctx.table_exists(node.requests_table):
            return
        keys = key_columns(ctx, node, settings)
        if not keys:
            return
        on = " and ".join(f"new_rows.`{k}` = old_rows.`{k}`" for k in keys)
        row = ctx.sql(
            f"""
            select
                count(distinct if(now_answer.request_hash is null and new_rows.request_hash != old_rows.request_hash,
                    new_rows.request_hash, null)) as resent,
                (select count(*) from (
                    select distinct {", ".join(f"old_keys.`{k}`" for k in keys)}
                    from `{node.requests_table}` as old_keys
                    join `{node.responses_table}` as answers
                        on answers.request_hash = old_keys.request_hash and answers.status = ''
                )) as answered_before
            from {source} as new_rows
            join `{node.requests_table}` as old_rows on {on}
            join `{node.responses_table}` as old_answer
                on old_answer.request_hash = old_rows.request_hash and old_answer.status = ''
            left join `{node.responses_table}` as now_answer on now_answer.request_hash = new_rows.request_hash
            """,
            node=node.unique_id,
        )[0]
    else:
        # Answers no row uses any more = the cache's answers - those the model's rows use (plan.answered, counted
        # already): the cache holds one row per request_hash (collect.write_to_cache inserts only hashes it lacks),
        # so only its status column is read, never the hash columns of the cache and the model again. Capped at `new`.
        answered = ctx.sql(
            f"select countif(status = '') as answered from `{node.responses_table}`", node=node.unique_id
        )[0]["answered"]
        plan.answered_before = int(answered or 0)
        plan.resent_changed = min(plan.new, max(0, plan.answered_before - plan.answered))
        return
    plan.resent_changed, plan.answered_before = int(row["resent"] or 0), int(row["answered_before"] or 0)


def _input_tokens(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    plan: ModelPlan,
    pending: str,
    sample: list[str],
    counter: aiplatform_v1.LlmUtilityServiceClient | None,
    params: dict[str, int],
) -> None:
    total = ctx.sql(
        f"select count(*) as n, sum(length(request)) as chars from ({pending})", node=node.unique_id, **params
    )[0]
    n, chars = int(total["n"]), int(total["chars"] or 0)
    counted = _count_sample(ctx, node, settings, sample, counter) if counter is not None else None
    if counted is None:
        plan.input_tokens = -(-chars // CHARS_PER_TOKEN)
        plan.input_tokens_source = f"rough estimate: request characters / {CHARS_PER_TOKEN} (countTokens not used)"
        return
    sample_tokens, sample_chars, sampled = counted
    if sampled >= n:
        plan.input_tokens, plan.input_tokens_source = sample_tokens, f"countTokens on all {n} requests"
        return
    plan.input_tokens = round(sample_tokens * chars / sample_chars) if sample_chars else 0
    plan.input_tokens_source = f"countTokens on a sample of {sampled} of {n} requests, extrapolated by characters"


def _count_sample(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    sample: list[str],
    counter: aiplatform_v1.LlmUtilityServiceClient,
) -> tuple[int, int, int] | None:
    """(tokens, characters, requests) of a sample counted by Vertex; None when countTokens cannot be used."""
    model = normalize_model(settings.gemini_model)
    if "/" in model:
        return None  # a tuned model: countTokens on its endpoint is not wired up; use the labelled estimate
    project = settings.vertex_project or node.database
    endpoint = f"projects/{project}/locations/{ctx.location(settings)}/publishers/google/models/{model}"
    tokens = chars = 0
    for text in sample:
        body = json.loads(text)
        fields = {k: body[k] for k in ("contents", "systemInstruction", "system_instruction", "tools") if k in body}
        request = aiplatform_v1.CountTokensRequest.from_json(
            json.dumps({"endpoint": endpoint, "model": endpoint, **fields}), ignore_unknown_fields=True
        )
        try:
            tokens += counter.count_tokens(request=request, timeout=60).total_tokens
        except (gexc.GoogleAPICallError, ConnectionError) as exc:
            log.warning("%s: countTokens failed (%s); using the rough estimate", node.name, exc)
            ctx.progress.say(f"{node.name}: countTokens failed ({exc.__class__.__name__}); using the rough estimate")
            return None
        chars += len(text)
    return tokens, chars, len(sample)


def _output_tokens(
    ctx: BatchContext,
    node: BatchNode,
    settings: BatchSettings,
    plan: ModelPlan,
    pending: str,
    sample: list[str],
    has_answers: bool,
    params: dict[str, int],
) -> None:
    n = plan.to_send
    ceiling = ctx.sql(f"select sum({_MAX_OUTPUT}) as bound from ({pending})", node=node.unique_id, **params)[0]
    plan.output_tokens_ceiling = int(ceiling["bound"] or 0)
    # The bound the requests imply: the estimate without history, and the thinking ceiling in any case.
    price = price_for(settings.gemini_model, dt.datetime.now(dt.UTC).date())
    typical_output = price.typical_output_tokens if price else None
    typical_thinking = price.typical_thinking_tokens if price else None
    total, bases, read = OutputTokens(0, 0, 0, 0, 0), set[str](), 0
    for text in sample:
        try:
            body = json.loads(text)
        except ValueError:
            continue  # the pre-submission check names such a row; the estimate does without it
        figures, basis = request_output_tokens(body, typical_output, typical_thinking)
        total, bases, read = total + figures, bases | {basis}, read + 1
    share = n / read if read else 0.0
    plan.thinking_tokens_ceiling = round(total.thinking_ceiling * share)
    if has_answers:
        usage = "to_json_string(response)"
        output = f"coalesce(safe_cast(json_value({usage}, '$.usageMetadata.candidatesTokenCount') as int64), 0)"
        thinking = f"coalesce(safe_cast(json_value({usage}, '$.usageMetadata.thoughtsTokenCount') as int64), 0)"
        row = ctx.sql(
            f"""
            select
                count(*) as n,
                avg(output) as output,
                avg(thinking) as thinking,
                approx_quantiles(output, 10)[offset(1)] as output_low,
                approx_quantiles(thinking, 10)[offset(1)] as thinking_low
            from (select {output} as output, {thinking} as thinking from `{node.responses_table}` where status = '')
            """,
            node=node.unique_id,
        )[0]
        if int(row["n"]):
            plan.output_tokens = round(float(row["output"] or 0) * n)
            plan.thinking_tokens = round(float(row["thinking"] or 0) * n)
            plan.output_tokens_low = min(plan.output_tokens, round(float(row["output_low"] or 0) * n))
            plan.thinking_tokens_low = min(plan.thinking_tokens, round(float(row["thinking_low"] or 0) * n))
            plan.thinking_tokens_ceiling = max(plan.thinking_tokens_ceiling, plan.thinking_tokens)
            plan.output_tokens_source = (
                f"the model's {int(row['n'])} answered requests (likely: average; low: 10th percentile)"
            )
            return
    plan.output_tokens, plan.output_tokens_low = round(total.likely * share), round(total.low * share)
    plan.thinking_tokens = round(total.thinking_likely * share)
    plan.thinking_tokens_low = round(total.thinking_low * share)
    plan.output_tokens_source = (
        f"bound from the requests ({', '.join(sorted(bases)) or 'none readable'}; thinking from the thinking budget"
        + ("" if price else "; no typical length in the price registry")
        + f"; {read} of {n} requests read), no answered history yet"
    )
