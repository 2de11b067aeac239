"""`make demo`: the demo pipeline end to end on the local stack, then a summary and the marts.

Starts bqemulator, the Vertex emulator and the Cloud Storage emulator on free loopback ports, uploads the product
files (gemini_batch.demo_media) to the local Cloud Storage, runs `dbt deps`, `dbt seed` and `dbt-gemini-batch build` in
integration_tests/ (reviews -> staging -> review_insights batch job -> parsed -> marts, and product files ->
product_media_insights, a multimodal batch job), prints what the batch did, the marts and the answers about the files,
and always stops the stack, leaving no process behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from google.cloud import bigquery

from gemini_batch.demo_media import read_media_seed, upload_media
from gemini_batch.local.clients import local_bigquery_client, local_storage_client
from gemini_batch.local.stack import LocalStack, StackConfig, StackInfo

DEMO_DATASET = "gemini_batch_demo"
MARTS = ("review_pipeline_health", "sentiment_by_product", "topic_counts", "usage_and_cost")
# The multimodal model's answers: which file, its MIME type, and the typed columns of its output_schema.
MEDIA_MODEL = "product_media_insights"
MEDIA_COLUMNS = ("media_uri", "mime_type", "media_kind", "description", "output_state")


def project_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "integration_tests" / "dbt_project.yml").exists():
            return parent / "integration_tests"
    raise SystemExit("the demo runs from a checkout of dbt-gemini-batch (integration_tests/ not found)")


def run(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
    print(f"\n$ {' '.join(cmd)}", flush=True)
    result = subprocess.run(list(cmd), cwd=cwd, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo step failed (exit {result.returncode}): {' '.join(cmd)}")


def print_table(
    client: bigquery.Client, table: str, limit: int = 12, columns: Sequence[str] = (), order_by: str = ""
) -> None:
    select = ", ".join(columns) or "*"
    order = f" order by {order_by}" if order_by else ""
    rows = list(client.query(f"select {select} from `{table}`{order} limit {limit:d}").result())
    print(f"\n== {table.rsplit('.', 1)[-1]} ({len(rows)} rows shown)")
    if not rows:
        return
    names = list(rows[0].keys())
    cells = [[_cell(row[n]) for n in names] for row in rows]
    widths = [max(len(n), *(len(c[i]) for c in cells)) for i, n in enumerate(names)]
    print("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def main() -> int:
    dbt_dir = project_dir()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="gemini-batch-demo-") as data_dir:
        stack = LocalStack(StackConfig.on_free_ports(Path(data_dir)))
        print(
            "starting the local stack (bqemulator + Vertex AI batch emulator + Cloud Storage emulator) ...", flush=True
        )
        info: StackInfo = stack.up()
        try:
            print(
                f"BigQuery at {info.bigquery_endpoint}, Vertex AI at {info.vertex_endpoint}, "
                f"Cloud Storage at {info.storage_endpoint}"
            )
            # the files the multimodal model sends as fileData parts: made in code, never downloaded
            uploaded = upload_media(local_storage_client(info.storage_endpoint, info.project), read_media_seed(dbt_dir))
            print(
                f"uploaded {len(uploaded)} product files to the local Cloud Storage (gs://{uploaded[0][5:].split('/')[0]})"
            )
            env = {**os.environ, **info.env(), "GEMINI_BATCH_DATASET": DEMO_DATASET, "GEMINI_BATCH_TARGET": "local"}
            common = ["--profiles-dir", str(dbt_dir)]
            run([str(bin_dir / "dbt"), "deps", *common], dbt_dir, env)
            run([str(bin_dir / "dbt"), "seed", *common], dbt_dir, env)
            build = ["build", "--select", "+tag:demo", "+tag:demo_media", *common]
            run([str(bin_dir / "dbt-gemini-batch"), *build], dbt_dir, env)
            client = local_bigquery_client(info.bigquery_endpoint, info.project)
            for mart in MARTS:
                print_table(client, f"{info.project}.{DEMO_DATASET}.{mart}")
            print_table(
                client, f"{info.project}.{DEMO_DATASET}.{MEDIA_MODEL}", columns=MEDIA_COLUMNS, order_by="media_uri"
            )
            print_table(client, f"{info.project}.{DEMO_DATASET}.gemini_batch_job_history", limit=5)
        finally:
            stopped = stack.down()
            print(f"\nlocal stack stopped ({', '.join(stopped) or 'nothing running'}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
