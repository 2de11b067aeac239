"""The end of every run: one row per model, printed and written to target/gemini_batch_results.json.

Numbers come from where they are kept, so they agree with them: the ledger rows of this invocation (jobs, rows sent,
answered, failed, tokens), the model's tables (rows, answers cached, given up) and the plan the guards made before
submitting (retries). Cost is the price registry's batch rate for the tokens Vertex reported. A cascade
(escalate_to) gets a second row, `m__escalated`, for the second model's tier, and both rows say what asking the
second model for every row would have cost (its measured cost per request times the first tier's requests) and the
saving.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.plan import count_requests, counted_in_this_run
from gemini_batch.dbt_project import BatchNode
from gemini_batch.prices import estimate_cost, normalize_model, price_for
from gemini_batch.settings import BatchSettings
from gemini_batch.spend.estimate import ModelPlan

RESULTS_FILE = "gemini_batch_results.json"
COLUMNS = (
    ("model", "model"), ("requests", "rows"), ("cached", "cached"), ("sent", "sent"), ("answered", "answered"),
    ("failed", "failed"), ("retried", "retried"), ("given_up", "given up"), ("pending", "pending"),
    ("jobs", "jobs"),
    ("tokens_in", "tok in"), ("tokens_out", "tok out"), ("tokens_thinking", "tok think"),
    ("tokens_cached", "tok cached"), ("estimated_cost_usd", "cost $"), ("wall_seconds", "wall s"),
)  # fmt: skip

# One unit per figure: rows of the model's requests relation, or requests (distinct request_hash: identical rows are
# one request); jobs this invocation submitted or collected (an earlier run's too, with their tokens and cost).
UNITS = (
    "units: rows = rows of the model; cached, sent, answered, failed, retried, given up, pending = requests (distinct "
    "request_hash); jobs, tokens and cost = the jobs this run submitted or collected"
)
_plans: dict[tuple[str, str], ModelPlan] = {}
_lock = threading.Lock()


def remember_plan(invocation_id: str, plan: ModelPlan) -> None:
    with _lock:
        _plans[(invocation_id, plan.model)] = plan


def model_row(
    ctx: BatchContext, node: BatchNode, settings: BatchSettings, collected: list[str] | None = None
) -> dict[str, Any]:
    """The summary row of one model for this invocation: the jobs it submitted and the jobs of earlier runs it
    collected (`collected`: their input tables), with their tokens and cost."""
    jobs = ctx.sql(
        f"""
        select
            count(*) as jobs,
            coalesce(sum(request_count), 0) as sent,
            coalesce(sum(succeeded_count), 0) as answered,
            coalesce(sum(failed_count), 0) as failed,
            coalesce(sum(prompt_tokens), 0) as tokens_in,
            coalesce(sum(output_tokens), 0) as tokens_out,
            coalesce(sum(thoughts_tokens), 0) as tokens_thinking,
            coalesce(sum(cached_tokens), 0) as tokens_cached,
            coalesce(sum(long_context_prompt_tokens), 0) as long_prompt_tokens,
            coalesce(sum(long_context_output_tokens), 0) as long_output_tokens,
            coalesce(sum(long_context_thoughts_tokens), 0) as long_thoughts_tokens,
            coalesce(sum(long_context_cached_tokens), 0) as long_cached_tokens,
            min(submitted_at) as started,
            max(coalesce(collected_at, updated_at)) as ended
        from ({ctx.ledger.latest_sql()})
        where dbt_node = @node_id and responses_table = @cache and job_name is not null
            and (invocation_id = @invocation or input_table in unnest(split(@collected, ',')))
        """,
        node=node.unique_id,
        node_id=node.unique_id,
        cache=node.responses_table,
        invocation=ctx.invocation_id,
        collected=",".join(collected or []),  # table ids hold no comma
    )[0]
    row: dict[str, Any] = {"model": node.name, "gemini_model": settings.gemini_model}
    for key in ("jobs", "sent", "answered", "failed", "tokens_in", "tokens_out", "tokens_thinking", "tokens_cached"):
        row[key] = int(jobs[key])
    # The plan's count stands when this run submitted and merged no job for the model since (nor a cascade's second
    # tier, which writes to the same cache): an unchanged run reads the cache's hashes once, not twice.
    counts = counted_in_this_run(ctx, node) if not row["jobs"] and not settings.escalate_to else None
    if counts is None and ctx.table_exists(node.responses_table):
        counts = count_requests(ctx, node, settings)
    pending: int | None
    if counts is not None:
        row["requests"], hashes, pending, row["given_up"] = counts.rows, counts.hashes, counts.pending, counts.exhausted
    else:  # no answer cache yet
        sizes = ctx.sql(
            f"select count(*) as n, count(distinct request_hash) as hashes from `{node.requests_table}`",
            node=node.unique_id,
        )[0]
        row["requests"], hashes, pending, row["given_up"] = int(sizes["n"]), int(sizes["hashes"]), None, 0
    # still to send after this run (never answered, left by a FAILED job, or failed with attempts left): plan's rule
    row["pending"] = pending
    plan = _plans.get((ctx.invocation_id, node.name))
    if plan:
        row["cached"] = plan.answered
    elif pending == 0 and not row["jobs"]:
        # nothing to send, so no plan was made: every distinct request came from the cache, save the given up
        row["cached"] = hashes - row["given_up"]
    else:
        row["cached"] = None
    row["retried"] = plan.retries_due if plan and row["sent"] else 0
    price = price_for(normalize_model(settings.gemini_model), dt.datetime.now(dt.UTC).date())
    if not row["jobs"]:
        row["estimated_cost_usd"] = 0.0
    elif price is None:  # estimate_cost warns that the model has no price; the cost stays unknown, never 0
        row["estimated_cost_usd"] = estimate_cost(settings.gemini_model, dt.datetime.now(dt.UTC).date(),
                                                  prompt_tokens=0, output_tokens=0)  # fmt: skip
    else:  # the tokens of requests above the long-context threshold at the long rates (the ledger keeps them apart)
        totals = {"prompt_tokens": row["tokens_in"], "output_tokens": row["tokens_out"],
                  "thoughts_tokens": row["tokens_thinking"], "cached_tokens": row["tokens_cached"]}  # fmt: skip
        long = {k: int(jobs[f"long_{k}"]) for k in totals}
        row["estimated_cost_usd"] = price.cost_with_long_context(totals, long)
    started, ended = jobs["started"], jobs["ended"]
    row["wall_seconds"] = round((ended - started).total_seconds(), 1) if started and ended else 0.0
    return row


def _cell(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 100 else f"{value:,.2f}"
    return str(value)


def format_table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...] = COLUMNS) -> str:
    """Plain aligned lines: readable in a terminal and in CI logs alike."""
    header = [title for _, title in columns]
    body = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in [header, *body]]  # fmt: skip
    return "\n".join(lines)


def write_results(target_dir: Path, invocation_id: str, rows: list[dict[str, Any]]) -> Path:
    path = target_dir / RESULTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "invocation_id": invocation_id,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "models": rows,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def _cascade_row(ctx: BatchContext, node: BatchNode, settings: BatchSettings, first: dict[str, Any]) -> dict[str, Any]:
    """The second tier's row of a cascade (batch/escalate.py), and on both rows what the cascade saved: what asking
    the second model for every row would have cost (its cost per request in this run times the first tier's
    requests; with nothing escalated, the first tier's tokens at its rates) less what both tiers cost."""
    from gemini_batch.batch.escalate import second_tier

    tier, tier_settings = second_tier(node, settings)
    second = model_row(ctx, tier, tier_settings)
    second["requests"] = int(ctx.sql(f"select count(*) as n from `{tier.requests_table}`", node=node.unique_id)[0]["n"])
    if second["sent"] and second["estimated_cost_usd"] is not None:
        # the second model's own cost per request, measured on the rows it answered, for every row of the first tier
        all_second: float | None = second["estimated_cost_usd"] / second["sent"] * first["sent"]
    else:  # nothing escalated in this run: the first tier's tokens at the second model's rates
        all_second = estimate_cost(
            normalize_model(tier_settings.gemini_model),
            dt.datetime.now(dt.UTC).date(),
            prompt_tokens=first["tokens_in"],
            output_tokens=first["tokens_out"],
            thoughts_tokens=first["tokens_thinking"],
            cached_tokens=first["tokens_cached"],
        )
    costs = (first["estimated_cost_usd"], second["estimated_cost_usd"], all_second)
    saving = None if None in costs else round(costs[2] - costs[0] - costs[1], 6)
    for row in (first, second):
        row["cascade_all_second_model_usd"] = all_second
        row["cascade_saving_usd"] = saving
    return second


def report(
    ctx: BatchContext,
    models: list[tuple[BatchNode, BatchSettings]],
    target_dir: Path,
    collected: dict[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    """Print the end-of-run table and write the JSON artifact; returns the rows. `collected`: per model name, the
    input tables of the jobs this invocation merged, an earlier run's among them."""
    rows = []
    for node, settings in models:
        rows.append(model_row(ctx, node, settings, (collected or {}).get(node.name)))
        if settings.escalate_to and ctx.table_exists(node.table("__escalated")):
            rows.append(_cascade_row(ctx, node, settings, rows[-1]))
    if rows:
        cells = [[_cell(row.get(key)) for key, _ in COLUMNS] for row in rows]
        ctx.progress.table("run summary", [title for _, title in COLUMNS], cells, format_table(rows))
        ctx.progress.say(UNITS)
        for row in rows:
            if row.get("given_up"):  # dead letters are never silent
                ctx.progress.say(
                    f"WARNING {row['model']}: {row['given_up']} request(s) given up after max_attempts (dead "
                    f"letters: no usable answer, never sent again); `dbt-gemini-batch status --failed --select "
                    f"{row['model']}` lists them"
                )
        path = write_results(target_dir, ctx.invocation_id, rows)
        ctx.progress.say(f"run summary written to {path.name} in the dbt target directory")
    return rows


def report_run(
    session: Any, model_names: list[str], collected: dict[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    """report() for the models a run processed, by name, with the session's clients and target directory."""
    by_name = {node.name: node for node in session.manifest.nodes.values()}
    models = [(by_name[n], session.settings(by_name[n])) for n in dict.fromkeys(model_names) if n in by_name]
    return report(session.runner.ctx, models, session.flags.manifest_path.parent, collected)
