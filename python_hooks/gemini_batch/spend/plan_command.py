"""`dbt-gemini-batch plan` and `run|build --dry-run`: the plan of every selected gemini_batch model, submitting nothing.

The models are compiled by dbt (`dbt compile`: nothing is built; the package's on-run-start hook only creates the
ledger when it is missing) and each compiled query is read once, hashed as the materialization would hash it, so the
counts are what the next run sends, and m__requests, still the previous run's, tells which answered keys changed.
The models the selected ones read must exist (built by an earlier `dbt run`), as for any query of them.
Costs come as low and likely (output tokens from the model's answered history, else from the bound its requests
imply: spend/estimate.py) with the maxOutputTokens ceiling beside them; guards compare the likely cost.
Written to target/gemini_batch_plan.json as well.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from gemini_batch.progress import Progress

PLAN_FILE = "gemini_batch_plan.json"
PLAN_COLUMNS = (
    ("model", "model"), ("rows", "rows"), ("distinct_requests", "distinct"), ("answered", "answered"),
    ("new", "new"), ("retries_due", "retries"), ("given_up", "given up"), ("resent_changed", "re-sent"),
    ("to_send", "to send"), ("input_tokens", "tok in"), ("output_tokens", "tok out"),
    ("thinking_tokens", "tok think"), ("estimated_cost_low_usd", "low $"), ("estimated_cost_usd", "likely $"),
    ("estimated_cost_ceiling_usd", "ceiling $"),
)  # fmt: skip


def dry_run(dbt_args: Sequence[str]) -> int:
    """`run|build --dry-run [dbt args]`: the plan of the gemini_batch models the dbt selection holds."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--select", "-s", "--models", "-m", nargs="+", default=[])
    for flag in ("--project-dir", "--profiles-dir", "--target", "-t", "--profile", "--target-path", "--vars"):
        parser.add_argument(flag)
    ns, _ = parser.parse_known_args(list(dbt_args))
    flags = []
    for name in ("project_dir", "profiles_dir", "target", "profile", "target_path", "vars"):
        if getattr(ns, name, None):
            flags += ["--" + name.replace("_", "-"), getattr(ns, name)]
    return plan(flags, ns.select)


def plan(dbt_flags: list[str], select: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    from gemini_batch.batch import BatchError
    from gemini_batch.dbt_project import DbtFlags, ProjectError, select_nodes
    from gemini_batch.runner import check_target
    from gemini_batch.session import Session
    from gemini_batch.settings import SettingsError
    from gemini_batch.spend.estimate import plan_model
    from gemini_batch.spend.guards import allowed_once, problems
    from gemini_batch.spend.report import format_table

    progress = Progress()
    check_target(DbtFlags.from_args(dbt_flags))  # before dbt compile, whose BigQuery retries last 10 minutes
    selection = ["--select", *select] if select else ["--select", "config.materialized:gemini_batch"]
    compiled = dbtRunner().invoke(["compile", "--quiet", *dbt_flags, *selection])
    if not compiled.success:
        progress.say(f"ERROR dbt compile failed: {compiled.exception or 'see the dbt log above'}")
        return 2
    try:
        flags = DbtFlags.from_args(dbt_flags)
        session = Session.open(flags, progress=progress, check=False)
        nodes = select_nodes(flags, session.manifest, select)
        if not nodes:
            progress.say("no gemini_batch model selected: nothing to plan")
            return 0
        manifest = json.loads(flags.manifest_path.read_text())
        code = {uid: n.get("compiled_code") for uid, n in manifest["nodes"].items()}
        ctx = session.runner.ctx
        checked, setting_problems = session.checked_settings(nodes)
        if setting_problems:  # every model's, at once
            for problem in setting_problems:
                progress.say(f"ERROR {problem}")
            return 2
        plans, stops = [], []
        for node in nodes:
            settings = checked[node.unique_id]
            counter = ctx.token_counter(settings)  # type: ignore[attr-defined]
            model_plan = plan_model(ctx, node, settings, counter, compiled_sql=code[node.unique_id])
            plans.append(model_plan)
            node_stops, warnings = problems(model_plan, settings)
            stops += node_stops
            for warning in warnings:
                progress.say(f"WARNING {warning}")
    except (ProjectError, SettingsError, BatchError) as exc:
        progress.say(f"ERROR {exc}")
        return 2
    rows = [p.as_dict() for p in plans]
    table = format_table(rows, PLAN_COLUMNS)
    progress.say("plan (nothing submitted):\n" + table)
    for p in plans:
        progress.say(f"{p.model}: input tokens: {p.input_tokens_source}; output tokens: {p.output_tokens_source}")
    for stop in stops:
        progress.say(f"GUARD {stop}" + (" (allowed once)" if allowed_once() else ""))
    path = flags.manifest_path.parent / PLAN_FILE
    path.write_text(json.dumps({"models": rows}, indent=2) + "\n")
    return 0
