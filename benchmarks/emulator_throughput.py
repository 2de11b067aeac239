"""End-to-end throughput of the local stack: one batch job over N review prompts with a responseSchema.

Starts a LocalStack (bqemulator + the Vertex emulator as subprocesses, free ports, temporary directory), loads N request
rows, submits one job with the real aiplatform_v1 JobServiceClient, polls it to the end and prints:
rows/s end to end (submit -> SUCCEEDED seen by the client), rows/s of the answer phase (job startTime -> endTime, the
emulator reading, answering and writing), and the peak RSS (VmHWM) of the emulator and of bqemulator.

    python benchmarks/emulator_throughput.py [--rows 100000] [--chunk-rows 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from google.cloud import aiplatform_v1, bigquery

from gemini_batch.local.clients import local_bigquery_client, local_job_client
from gemini_batch.local.stack import LocalStack, StackConfig
from pipeline_throughput import peak_rss_mib

LOCATION = "us-central1"
LOAD_BATCH_ROWS = 25_000
SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "sentiment": {"type": "STRING", "enum": ["positive", "negative", "neutral", "mixed"]},
        "topics": {
            "type": "ARRAY",
            "items": {"type": "STRING", "enum": ["shipping", "quality", "price", "service", "packaging", "size"]},
            "maxItems": 3,
        },
        "rating": {"type": "INTEGER", "minimum": 1, "maximum": 5},
        "summary": {"type": "STRING"},
        "refund_requested": {"type": "BOOLEAN"},
    },
    "required": ["sentiment", "topics", "rating", "summary"],
}
PRODUCTS = ["kettle", "blender", "desk lamp", "backpack", "headphones", "coffee grinder", "rain jacket", "phone case"]
OPENINGS = [
    "I bought the {p} last month.",
    "Ordered this {p} as a gift.",
    "Second {p} from this brand.",
    "Replacing my old {p}.",
]
GOOD = [
    "It works great and feels solid.",
    "Excellent quality for the price, I love it.",
    "Delivery was fast and the packaging was neat.",
    "Customer service was friendly and helpful.",
]
BAD = [
    "It arrived broken and the box was damaged.",
    "Shipping took three weeks, terrible.",
    "Stopped working after two days, I want a refund.",
    "Support was rude and never answered my emails.",
    "Way overpriced for such poor quality.",
]
NEUTRAL = ["The size is as described.", "Colour matches the photos.", "Nothing special, it does the job."]


def review(rng: random.Random) -> str:
    product = rng.choice(PRODUCTS)
    parts = [rng.choice(OPENINGS).format(p=product)]
    mood = rng.random()
    pool = GOOD if mood < 0.5 else BAD if mood < 0.85 else NEUTRAL
    parts += rng.sample(pool, k=min(len(pool), rng.randint(2, 3)))
    parts += rng.sample(NEUTRAL, k=1)
    return " ".join(parts)


def request_row(i: int, rng: random.Random) -> dict[str, Any]:
    text = (
        "You are a support analyst. Classify the customer review below: overall sentiment, the topics it mentions "
        "(shipping, quality, price, service, packaging, size), a 1-5 rating and a one-sentence summary.\n\n"
        f"Review: {review(rng)}"
    )
    request = {
        "contents": [{"role": "user", "parts": [{"text": text}]}],
        "generationConfig": {
            "temperature": 0.0,
            "maxOutputTokens": 512,
            "responseMimeType": "application/json",
            "responseSchema": SCHEMA,
            "thinkingConfig": {"thinkingBudget": 0},
        },
    }
    return {"review_id": i, "product_line": rng.choice(["home", "outdoor", "audio"]), "request": json.dumps(request)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--chunk-rows", type=int, default=None, help="emulator chunk_rows (default: its default)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="gemini-batch-bench-") as tmp:
        settings: dict[str, Any] = {"queue_delay_seconds": 0.1}
        if args.chunk_rows:
            settings["chunk_rows"] = args.chunk_rows
        config_path = Path(tmp) / "emulator.json"
        config_path.write_text(json.dumps(settings))
        stack = LocalStack(StackConfig.on_free_ports(Path(tmp) / "stack", emulator_config=config_path))
        info = stack.up()
        try:
            return run(info.project, info.bigquery_endpoint, info.vertex_endpoint, info.pids, args.rows)
        finally:
            stack.down()


def run(project: str, bq_url: str, vertex_url: str, pids: dict[str, int], rows: int) -> int:
    bq = local_bigquery_client(bq_url, project, LOCATION)
    dataset = bigquery.Dataset(f"{project}.bench")
    dataset.location = LOCATION
    bq.create_dataset(dataset)
    table_id = f"{project}.bench.reviews"
    schema = [
        bigquery.SchemaField("review_id", "INT64"),
        bigquery.SchemaField("product_line", "STRING"),
        bigquery.SchemaField("request", "STRING"),
    ]
    bq.create_table(bigquery.Table(table_id, schema=schema))
    rng = random.Random(42)
    started = time.perf_counter()
    total_chars = 0
    for offset in range(0, rows, LOAD_BATCH_ROWS):
        batch = [request_row(i, rng) for i in range(offset, min(rows, offset + LOAD_BATCH_ROWS))]
        total_chars += sum(len(r["request"]) for r in batch)
        config = bigquery.LoadJobConfig(schema=schema, write_disposition="WRITE_APPEND")
        bq.load_table_from_json(batch, table_id, job_config=config).result()
    load_seconds = time.perf_counter() - started
    print(f"loaded {rows} requests (avg {total_chars / max(rows, 1):.0f} chars) in {load_seconds:.1f}s")

    client = local_job_client(vertex_url)
    job = aiplatform_v1.BatchPredictionJob(
        display_name="throughput-benchmark",
        model="publishers/google/models/gemini-2.5-flash",
        input_config={"instances_format": "bigquery", "bigquery_source": {"input_uri": f"bq://{table_id}"}},
        output_config={
            "predictions_format": "bigquery",
            "bigquery_destination": {"output_uri": f"bq://{project}.bench"},
        },
    )
    submitted = time.perf_counter()
    created = client.create_batch_prediction_job(
        parent=f"projects/{project}/locations/{LOCATION}", batch_prediction_job=job
    )
    finished = {
        aiplatform_v1.JobState.JOB_STATE_SUCCEEDED,
        aiplatform_v1.JobState.JOB_STATE_FAILED,
        aiplatform_v1.JobState.JOB_STATE_CANCELLED,
    }
    while True:
        current = client.get_batch_prediction_job(name=created.name)
        if current.state in finished:
            break
        time.sleep(0.25)
    end_to_end = time.perf_counter() - submitted
    if current.state != aiplatform_v1.JobState.JOB_STATE_SUCCEEDED:
        print(f"job ended {current.state.name}: {current.error.message}", file=sys.stderr)
        return 1
    answer_seconds = (current.end_time - current.start_time).total_seconds()
    stats = current.completion_stats
    output = bq.get_table(current.output_info.bigquery_output_table.removeprefix("bq://"))
    print(
        f"job {current.state.name}: {stats.successful_count} ok, {stats.failed_count} failed, "
        f"output table {output.table_id} has {output.num_rows} rows"
    )
    print(f"end to end (submit -> SUCCEEDED): {end_to_end:.1f}s = {rows / end_to_end:,.0f} rows/s")
    print(f"answer phase (startTime -> endTime): {answer_seconds:.1f}s = {rows / answer_seconds:,.0f} rows/s")
    emulator_mib, bigquery_mib = peak_rss_mib(pids["vertex"]), peak_rss_mib(pids["bigquery"])
    print(f"peak RSS: emulator {emulator_mib:,.0f} MiB, bqemulator {bigquery_mib:,.0f} MiB")
    return 0 if output.num_rows == rows == stats.successful_count else 1


if __name__ == "__main__":
    sys.exit(main())
