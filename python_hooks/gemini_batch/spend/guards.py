"""Guards on spend and on failures, per model.

Before any job is created (check_before_submit, called from batch/submit.py): max_requests_per_run,
max_estimated_cost_usd (against the likely cost, never the maxOutputTokens ceiling), and max_resend_share
(on_resend=warn|error). A guard that trips submits nothing; the message gives the numbers, the setting to raise, and
how to allow this one run (`--allow-over-budget`, which sets ALLOW_ENV for the hook).

After collection (check_error_ratio): failed + invalid rows over rows processed above max_error_ratio fails the
model, as BigQuery's AI functions do with max_error_ratio; a run in which every sent row failed always fails.
"""

from __future__ import annotations

import os

from gemini_batch.batch.common import BatchError, NodeOutcome
from gemini_batch.batch.context import BatchContext
from gemini_batch.batch.published_counts import RequestCounts
from gemini_batch.dbt_project import BatchNode
from gemini_batch.progress import Progress
from gemini_batch.settings import BatchSettings
from gemini_batch.spend.estimate import ModelPlan

ALLOW_ENV = "GEMINI_BATCH_ALLOW_OVER_BUDGET"
ALLOW_HINT = f"or allow this one run with `dbt-gemini-batch run|build|submit --allow-over-budget` ({ALLOW_ENV}=1)"


class GuardError(BatchError):
    """A guard stopped the model before anything was submitted."""


def allowed_once() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes")


def problems(plan: ModelPlan, settings: BatchSettings) -> tuple[list[str], list[str]]:
    """(stops, warnings) for a model's plan under its settings."""
    stops, warnings = [], []
    name = plan.model
    if settings.max_requests_per_run is not None and plan.to_send > settings.max_requests_per_run:
        stops.append(
            f"{name}: {plan.to_send} requests would be sent ({plan.new} new, {plan.retries_due} retries), more than "
            f"max_requests_per_run={settings.max_requests_per_run}; raise max_requests_per_run"
        )
    if settings.max_estimated_cost_usd is not None:
        cost = plan.estimated_cost_usd
        if cost is None:
            stops.append(
                f"{name}: the cost of {plan.to_send} requests on {plan.gemini_model} is unknown (no price in the "
                f"registry) and max_estimated_cost_usd={settings.max_estimated_cost_usd} is set; add the model's "
                "price to the var gemini_batch_prices"
            )
        elif cost > settings.max_estimated_cost_usd:
            low, ceiling = plan.estimated_cost_low_usd, plan.estimated_cost_ceiling_usd
            stops.append(
                f"{name}: likely cost ${cost:.4f} for {plan.to_send} requests ({plan.input_tokens} input tokens: "
                f"{plan.input_tokens_source}; {plan.output_tokens + plan.thinking_tokens} output tokens, "
                f"{plan.thinking_tokens} of them thinking: {plan.output_tokens_source}"
                + (f"; low ${low:.4f}" if low is not None else "")
                + (f", ceiling ${ceiling:.4f} if every answer used maxOutputTokens" if ceiling is not None else "")
                + f") is above max_estimated_cost_usd={settings.max_estimated_cost_usd}; raise max_estimated_cost_usd"
            )
    if plan.answered_before and plan.resend_share > settings.max_resend_share:
        message = (
            f"{name}: {plan.resent_changed} of {plan.answered_before} answered keys ({plan.resend_share:.0%}) would be "
            f"re-sent because their request changed (prompt, schema, config or model), more than "
            f"max_resend_share={settings.max_resend_share}"
        )
        if settings.on_resend == "error":
            stops.append(message + "; raise max_resend_share or set on_resend='warn'")
        else:
            warnings.append(message + " (on_resend='error' stops such a run)")
    return stops, warnings


def check_before_submit(plan: ModelPlan, settings: BatchSettings, progress: Progress) -> None:
    """Raise GuardError (nothing submitted) when a guard trips, unless allowed once; print warnings."""
    stops, warnings = problems(plan, settings)
    for warning in warnings:
        progress.say(f"WARNING {warning}")
    if not stops:
        return
    if allowed_once():
        for stop in stops:
            progress.say(f"WARNING {stop} (allowed once by {ALLOW_ENV})")
        return
    raise GuardError("; ".join(stops) + f"; nothing was submitted. {ALLOW_HINT}")


def error_ratio_problem(model: str, settings: BatchSettings, failed: int, processed: int) -> str | None:
    """Why the collected rows fail the model, or None. failed counts failed and invalid (empty) answers."""
    if processed == 0:
        return None
    if failed == processed:
        return f"{model}: every one of the {processed} rows processed failed; see `dbt-gemini-batch status --failed`"
    ratio = failed / processed
    if settings.max_error_ratio is not None and ratio > settings.max_error_ratio:
        return (
            f"{model}: {failed} of {processed} rows failed ({ratio:.1%}), above max_error_ratio="
            f"{settings.max_error_ratio}; see `dbt-gemini-batch status --failed` (failed rows are retried next run)"
        )
    return None


def guard_before_submit(
    ctx: BatchContext, node: BatchNode, settings: BatchSettings, counts: RequestCounts | None = None
) -> ModelPlan:
    """The hook's plan of a model whose m__requests was just built, checked against its guards; remembered for the
    end-of-run report. Raises GuardError when a guard trips. `counts`: the submission's count of the same hashes,
    made just before (batch/plan.py count_requests), which the plan takes instead of counting again."""
    from gemini_batch.spend.estimate import plan_model
    from gemini_batch.spend.report import remember_plan

    factory = getattr(ctx, "token_counter", None)  # set by Session: a LlmUtilityServiceClient per settings
    needs_tokens = settings.max_estimated_cost_usd is not None
    counter = factory(settings) if factory and needs_tokens else None
    plan = plan_model(ctx, node, settings, counter, estimate=needs_tokens, counts=counts)
    remember_plan(ctx.invocation_id, plan)
    check_before_submit(plan, settings, ctx.progress)
    return plan


def check_after_collection(node: BatchNode, settings: BatchSettings, outcome: NodeOutcome) -> None:
    """max_error_ratio over this run's collected rows: a breach becomes an error of the model (exit code 1)."""
    problem = error_ratio_problem(node.name, settings, outcome.failed, outcome.succeeded + outcome.failed)
    if problem:
        outcome.errors.append(problem)
