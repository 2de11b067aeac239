"""`doctor --canary`: one 3-row batch job per configured transport, to record what Vertex actually writes, and whether
BigQuery honours If-Match on a table patch; the package's design relies on both and neither is fully documented
(../shared/reference/vertex-output-shapes.md, real-cloud-review-2 §4). The cost is printed and confirmed first (a
fraction of a cent: three prompts of a few words, at most 16 output tokens each, at the batch rate).

The three rows: a text request; the same with `labels` (the Cloud Storage transport carries its hash there); and one
Vertex refuses row by row (temperature 5: "from 0.0 to 2.0"), to see a failed row's shape. Next to the request go a
`request_hash` and a numeric-looking `canary_key` ("00123"), to see passthrough columns / sibling keys and whether
Vertex keeps their type. What is recorded, per transport: the output's columns or keys and their types, how the
request came back (verbatim, keys sorted, absent part fields as null), whether request_hash / canary_key came back and
as what, and a failed row's status and whether it has a `response`. Kept in `<target>/gemini_batch_canary.json`,
shown by `dbt-gemini-batch status`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import aiplatform_v1, bigquery

from gemini_batch.batch import gcs
from gemini_batch.batch.common import SUCCESS_STATES, TERMINAL_STATES
from gemini_batch.batch.context import BQ_REQUEST_SECONDS, BatchContext
from gemini_batch.dbt_project import BatchNode
from gemini_batch.prices import price_for
from gemini_batch.settings import BatchSettings

RESULT_FILE = "gemini_batch_canary.json"
ROWS = 3
PROMPT_TOKENS, OUTPUT_TOKENS = 20, 16  # per row, at most (maxOutputTokens 16)
CANARY_KEY = "00123"
POLL_SECONDS = 2.0


def canary_requests() -> list[dict[str, Any]]:
    ask = {"contents": [{"role": "user", "parts": [{"text": "Reply with the word OK."}]}],
           "generationConfig": {"maxOutputTokens": OUTPUT_TOKENS, "temperature": 0}}  # fmt: skip
    labelled = {**ask, "labels": {"gemini_batch_canary": "labelled"}}
    refused = {**ask, "generationConfig": {"maxOutputTokens": OUTPUT_TOKENS, "temperature": 5}}
    return [ask, labelled, refused]


def hash_of(i: int) -> str:
    return f"canary{i}"


@dataclass
class Plan:
    transports: list[str]  # "bigquery" and/or "gcs"
    gcs_prefix: str | None
    gemini_model: str
    cost_usd: float | None  # at most, all jobs; None when the model has no price

    def describe(self) -> str:
        cost = "unknown (the model has no price)" if self.cost_usd is None else f"at most USD {self.cost_usd:.6f}"
        return (
            f"canary: {len(self.transports)} batch job(s) of {ROWS} rows on {self.gemini_model} "
            f"({', '.join(self.transports)} transport), {cost}"
        )


def plan(nodes: list[BatchNode], settings_of: Any) -> Plan:
    settings = [settings_of(n) for n in nodes]
    transports = ["bigquery"] if any(s.transport == "bigquery" for s in settings) else []
    gcs_prefix = next((s.gcs_prefix for s in settings if s.transport == "gcs" and s.gcs_prefix), None)
    if gcs_prefix:
        transports.append("gcs")
    model = settings[0].gemini_model
    price = price_for(model, dt.datetime.now(dt.UTC).date())
    cost = None
    if price is not None:
        cost = len(transports) * price.cost(prompt_tokens=ROWS * PROMPT_TOKENS, output_tokens=ROWS * OUTPUT_TOKENS)
    return Plan(transports, gcs_prefix, model, cost)


def echo_form(sent: dict[str, Any], echoed: Any) -> str:
    """How Vertex wrote the request back: verbatim, re-serialised (same JSON), keys sorted, nulls added, or changed."""
    if isinstance(echoed, str):
        text = echoed
        try:
            echoed = json.loads(echoed)
        except ValueError:
            return "not JSON"
        if text == json.dumps(sent) or text == json.dumps(sent, separators=(",", ":")):
            return "verbatim"
    if echoed == sent:
        return "same JSON"

    def strip_nulls(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip_nulls(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip_nulls(v) for v in value]
        return value

    forms = []
    if strip_nulls(echoed) == sent:
        forms.append("absent fields added as null")
    if isinstance(echoed, dict) and list(echoed) == sorted(echoed):
        forms.append("keys sorted")
    return ", ".join(forms) if forms else "changed (not the JSON sent)"


def _wait(client: aiplatform_v1.JobServiceClient, name: str, timeout: float) -> aiplatform_v1.BatchPredictionJob:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_batch_prediction_job(name=name, timeout=60)
        if job.state.name in TERMINAL_STATES or time.monotonic() > deadline:
            return job
        time.sleep(POLL_SECONDS)


def _body(settings: BatchSettings, name: str, input_config: Any, output_config: Any) -> Any:
    return aiplatform_v1.BatchPredictionJob(
        display_name=name, model=settings.model_resource, input_config=input_config, output_config=output_config,
        labels={"dbt_gemini_batch": "canary"},
    )  # fmt: skip


def run_bigquery(ctx: BatchContext, node: BatchNode, settings: BatchSettings, timeout: float) -> dict[str, Any]:
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}_{uuid.uuid4().hex[:6]}"
    table = f"{node.dataset}.gemini_batch_canary_{stamp}"
    requests = canary_requests()
    rows = ",\n".join(
        f"struct('{hash_of(i)}' as request_hash, '{CANARY_KEY}' as canary_key, {json.dumps(json.dumps(r))} as request)"
        for i, r in enumerate(requests)
    )
    ctx.sql(f"create table `{table}` as select * from unnest([{rows}])", node=node.unique_id)
    try:
        location = ctx.location(settings)
        parent = f"projects/{settings.vertex_project or node.database}/locations/{location}"
        body = _body(
            settings, f"dbt-gemini-batch canary {stamp}",
            aiplatform_v1.BatchPredictionJob.InputConfig(
                instances_format="bigquery", bigquery_source=aiplatform_v1.BigQuerySource(input_uri=f"bq://{table}")),
            aiplatform_v1.BatchPredictionJob.OutputConfig(
                predictions_format="bigquery",
                bigquery_destination=aiplatform_v1.BigQueryDestination(output_uri=f"bq://{table}_out")),
        )  # fmt: skip
        client = ctx.jobs(settings)
        job = _wait(client, client.create_batch_prediction_job(parent=parent, batch_prediction_job=body).name, timeout)
        result: dict[str, Any] = {"job": job.name, "state": job.state.name}
        if job.state.name not in SUCCESS_STATES:
            result["error"] = job.error.message or "the job did not finish in time: run doctor --canary again"
            return result
        output = ctx.bq.get_table(f"{table}_out", timeout=BQ_REQUEST_SECONDS)
        result["columns"] = {f.name: f.field_type for f in output.schema}
        out_rows = [dict(r) for r in ctx.bq.list_rows(output, timeout=BQ_REQUEST_SECONDS)]
        result.update(_describe_rows(requests, out_rows))
        return result
    finally:
        for name in (table, f"{table}_out"):
            ctx.bq.delete_table(name, not_found_ok=True)


def run_gcs(ctx: BatchContext, node: BatchNode, settings: BatchSettings, prefix: str, timeout: float) -> dict[str, Any]:
    stamp = f"{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S}_{uuid.uuid4().hex[:6]}"
    folder = f"{prefix.rstrip('/')}/gemini_batch_canary_{stamp}"
    bucket_name, input_name = gcs.split_uri(f"{folder}/input/requests.jsonl")
    requests = canary_requests()
    lines = "".join(
        json.dumps({"request_hash": f"{gcs.KEY_PREFIX}{hash_of(i)}", "canary_key": CANARY_KEY, "request": r}) + "\n"
        for i, r in enumerate(requests)
    )
    bucket = ctx.storage().bucket(bucket_name)
    bucket.blob(input_name).upload_from_string(lines, content_type="application/jsonl", timeout=BQ_REQUEST_SECONDS)
    try:
        location = ctx.location(settings)
        parent = f"projects/{settings.vertex_project or node.database}/locations/{location}"
        body = _body(settings, f"dbt-gemini-batch canary {stamp}", gcs.input_config(f"{folder}/input/requests.jsonl"),
                     gcs.output_config(f"{folder}/output"))  # fmt: skip
        client = ctx.jobs(settings)
        job = _wait(client, client.create_batch_prediction_job(parent=parent, batch_prediction_job=body).name, timeout)
        result: dict[str, Any] = {"job": job.name, "state": job.state.name}
        if job.state.name not in SUCCESS_STATES:
            result["error"] = job.error.message or "the job did not finish in time: run doctor --canary again"
            return result
        out_lines = []
        for blob in gcs.objects(ctx, f"{folder}/output/"):
            if blob.name.endswith(".jsonl"):
                out_lines += [
                    json.loads(x) for x in blob.download_as_text(timeout=BQ_REQUEST_SECONDS).splitlines() if x
                ]
        keys: dict[str, str] = {}
        for line in out_lines:
            for key, value in line.items():
                keys.setdefault(key, type(value).__name__)
        result["keys"] = keys
        result["keys_sorted"] = all(list(line) == sorted(line) for line in out_lines)
        result.update(_describe_rows(requests, out_lines))
        return result
    finally:
        gcs.delete_under(ctx, f"{folder}/")


def _describe_rows(requests: list[dict[str, Any]], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What came back of the rows: the echo form per request, the passthrough values, a failed row's shape."""
    by_hash: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = str(row.get("request_hash") or "").removeprefix(gcs.KEY_PREFIX)
        by_hash[key] = row
    echo = sorted({echo_form(requests[i], by_hash[hash_of(i)].get("request")) for i in range(ROWS)
                   if hash_of(i) in by_hash})  # fmt: skip
    failed = by_hash.get(hash_of(2), {})
    keys = {row.get("canary_key") for row in rows}
    return {
        "rows": len(rows),
        "request_hash_echoed": sum(hash_of(i) in by_hash for i in range(ROWS)),
        "canary_key_values": sorted(repr(k) for k in keys),
        "canary_key_kept": keys == {CANARY_KEY},
        "echo_form": echo,
        "failed_row": {
            "status": str(failed.get("status") or "")[:200],
            "has_response_key": "response" in failed,
            "response": None if failed.get("response") in (None, "", {}) else "present",
        },
    }


def if_match_honoured(ctx: BatchContext, node: BatchNode) -> bool:
    """Whether BigQuery refuses a table patch whose If-Match etag is stale (412), which the leases rely on."""
    name = f"{node.dataset}.gemini_batch_canary_etag_{uuid.uuid4().hex[:8]}"
    table = ctx.bq.create_table(bigquery.Table(name, schema=[bigquery.SchemaField("x", "INT64")]))
    try:
        first = ctx.bq.get_table(name)
        first.description = "one"
        ctx.bq.update_table(first, ["description"])  # the table's etag changes
        stale = ctx.bq.get_table(name)
        stale._properties["etag"] = first.etag  # the etag before that patch
        stale.description = "two"
        try:
            ctx.bq.update_table(stale, ["description"], retry=None)  # type: ignore[arg-type]  # no retry: one try
        except gexc.PreconditionFailed:
            return True
        return False
    finally:
        ctx.bq.delete_table(table, not_found_ok=True)


def result_path(project_dir: Path, target_path: str) -> Path:
    return project_dir / target_path / RESULT_FILE


def run(
    ctx: BatchContext, nodes: list[BatchNode], settings_of: Any, the_plan: Plan, timeout: float, path: Path
) -> dict[str, Any]:
    node = nodes[0]
    settings = settings_of(node)
    gcs_node = next((n for n in nodes if settings_of(n).transport == "gcs"), node)
    result: dict[str, Any] = {
        "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "gemini_model": the_plan.gemini_model,
        "location": ctx.location(settings),
        "estimated_cost_usd": the_plan.cost_usd,
        "transports": {},
    }
    if "bigquery" in the_plan.transports:
        result["transports"]["bigquery"] = run_bigquery(ctx, node, settings, timeout)
    if "gcs" in the_plan.transports and the_plan.gcs_prefix:
        result["transports"]["gcs"] = run_gcs(ctx, gcs_node, settings_of(gcs_node), the_plan.gcs_prefix, timeout)
    result["if_match_honoured"] = if_match_honoured(ctx, node)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    return result


def summary(result: dict[str, Any]) -> list[str]:
    """Lines for `status` and for doctor's output."""
    lines = [f"canary {result.get('checked_at')} ({result.get('gemini_model')}, {result.get('location')}):"]
    for transport, found in result.get("transports", {}).items():
        if "error" in found:
            lines.append(f"  {transport}: job {found.get('state')}: {found['error']}")
            continue
        failed = found.get("failed_row", {})
        shape = ", ".join(f"{k} {v}" for k, v in (found.get("columns") or found.get("keys") or {}).items())
        echo = "; ".join(found.get("echo_form", [])) or "not at all"
        values = ", ".join(found.get("canary_key_values", []))
        response = "present" if failed.get("has_response_key") else "absent"
        lines += [
            f"  {transport}: request echoed {echo}; request_hash back on {found.get('request_hash_echoed')}/{ROWS} "
            f"rows; canary_key came back as {values}",
            f"    failed row: status {failed.get('status')!r}, response key {response}",
            f"    output: {shape}",
        ]
    honoured = "honoured (412 on a stale etag)" if result.get("if_match_honoured") else "NOT honoured"
    lines.append(f"  BigQuery If-Match on a table patch: {honoured}")
    return lines
