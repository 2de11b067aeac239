"""`dbt-gemini-batch compare --select m --sample N [variant]`: the steps are spend/compare.py's; this runs them for
one model, says the plan's cost before anything is sent, and exits 1 when a guard or a job stops the variant."""

from __future__ import annotations

import argparse
import json

from gemini_batch.progress import Progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample", type=int, default=50, metavar="N", help="rows to compare (default 50)")
    parser.add_argument("--variant", metavar="NAME", help="the variant's name in m__comparisons (default: derived)")
    parser.add_argument("--gemini-model", metavar="MODEL", help="variant: another Gemini model")
    parser.add_argument("--system-instruction", metavar="TEXT", help="variant: this system instruction")
    parser.add_argument(
        "--generation-config", metavar="JSON", help="variant: merged into generationConfig, e.g. '{\"temperature\": 1}'"
    )
    parser.add_argument(
        "--from-model", metavar="MODEL",
        help="variant: the requests of another dbt model (same key columns + request), e.g. a changed prompt",
    )  # fmt: skip
    parser.add_argument("--allow-over-budget", action="store_true", help="let this compare pass the spend guards")


def compare(dbt_flags: list[str], select: list[str], ns: argparse.Namespace) -> int:
    from dbt.cli.main import dbtRunner

    from gemini_batch.batch import BatchError
    from gemini_batch.batch.flight import Interrupted
    from gemini_batch.dbt_project import DbtFlags, ProjectError, select_nodes
    from gemini_batch.session import Session
    from gemini_batch.settings import SettingsError
    from gemini_batch.spend import compare as steps
    from gemini_batch.spend.estimate import key_columns, plan_model

    progress = Progress()
    try:
        config = json.loads(ns.generation_config) if ns.generation_config else {}
    except ValueError as exc:
        progress.say(f"ERROR --generation-config is not JSON ({exc}); give an object, e.g. '{{\"temperature\": 1}}'")
        return 2
    if not isinstance(config, dict):
        progress.say("ERROR --generation-config must be a JSON object, e.g. '{\"temperature\": 1}'")
        return 2
    variant = steps.Variant(
        name="",
        gemini_model=ns.gemini_model,
        system_instruction=ns.system_instruction,
        generation_config=config,
        from_model=ns.from_model,
    )
    if not variant.describe():
        progress.say(
            "ERROR compare needs a variant: --gemini-model, --system-instruction, --generation-config or --from-model"
        )
        return 2
    variant = steps.Variant(**{**variant.__dict__, "name": ns.variant or variant.describe()})
    if ns.sample < 1:
        progress.say("ERROR --sample must be at least 1")
        return 2
    compiled_sql = None
    try:
        flags = DbtFlags.from_args(dbt_flags)
        if variant.from_model:
            done = dbtRunner().invoke(["compile", "--quiet", *dbt_flags, "--select", variant.from_model])
            if not done.success:
                progress.say(f"ERROR dbt compile --select {variant.from_model} failed: {done.exception or 'see above'}")
                return 2
            manifest = json.loads(flags.manifest_path.read_text())
            found = [n for n in manifest["nodes"].values() if n.get("name") == variant.from_model]
            if not found or not found[0].get("compiled_code"):
                progress.say(f"ERROR --from-model {variant.from_model}: no such dbt model in this project")
                return 2
            compiled_sql = found[0]["compiled_code"]
        session = Session.open(flags, progress=progress)
        nodes = select_nodes(flags, session.manifest, select)
        if len(nodes) != 1:
            progress.say(f"ERROR compare takes one gemini_batch model; --select {' '.join(select)} gives {len(nodes)}")
            return 2
        node = nodes[0]
        ctx = session.runner.ctx
        settings = session.settings(node)
        if not ctx.table_exists(node.requests_table) or not ctx.table_exists(node.responses_table):
            progress.say(f"ERROR {node.name} has not been built and answered yet: `dbt-gemini-batch run` it first")
            return 2
        chosen = steps.variant_settings(settings, variant)
        keys = key_columns(ctx, node, settings)
        sample = steps.sample_rows(ctx, node, keys, ns.sample)
        if not sample:
            progress.say(f"ERROR {node.name} has no answered row to compare; run it first")
            return 2
        texts = steps.variant_requests(ctx, node, keys, sample, variant, compiled_sql)
        hashes = {key: steps.request_hash(chosen.gemini_model, text) for key, text in texts.items()}
        tier = steps.comparison_node(node)
        steps.write_comparison_requests(
            ctx, tier, [{"row_key": k, "request": texts[k], "request_hash": hashes[k]} for k in texts]
        )
        plan = plan_model(ctx, tier, chosen, ctx.token_counter(chosen))  # type: ignore[attr-defined]
        progress.say(
            f"{node.name}: variant {variant.name!r}: {plan.to_send} of {len(sample)} sampled requests to send to "
            f"{chosen.gemini_model} (the rest are cached), likely ${plan.estimated_cost_usd} "
            f"(low ${plan.estimated_cost_low_usd}, ceiling ${plan.estimated_cost_ceiling_usd})"
        )
        flights = session.runner.flights()
        flight = flights.add(tier, chosen)
        flights.wait()
        if flight.outcome.errors:
            for error in flight.outcome.errors:
                progress.say(f"ERROR {error}")
            return 1
        answers = steps.responses_by_hash(ctx, node, [r["request_hash"] for r in sample] + list(hashes.values()))
        rows = steps.compare_rows(sample, hashes, answers, variant, settings.gemini_model, chosen.gemini_model)
        distinct = int(
            ctx.sql(f"select count(distinct request_hash) as n from `{node.requests_table}`", node=node.unique_id)[0][
                "n"
            ]
        )
        cached = len({r["variant_request_hash"] for r in rows if r["variant_answered"]})  # rows may share a request
        # Only a variant that hashes as the materialization would (a model and/or --from-model change) is reused.
        reusable = variant.system_instruction is None and not variant.generation_config
        summary = steps.summarize(rows, distinct, cached if reusable else 0)
        table = steps.write_comparisons(ctx, node, variant, rows)
        steps.print_summary(progress, node.name, variant, summary)
        path = steps.write_json(flags.manifest_path.parent, node.name, variant, summary, table)
        progress.say(f"rows in {table}; summary in {path.name} in the dbt target directory")
        return 0
    except Interrupted as exc:
        progress.say(str(exc))
        return 130
    except steps.CompareError as exc:
        progress.say(f"ERROR {exc}")
        return 2
    except (ProjectError, SettingsError, BatchError) as exc:
        progress.say(f"ERROR {exc}")
        return 2 if isinstance(exc, ProjectError | SettingsError) else 1
