"""The flow Google's Gemini batch samples teach, as the baseline vs_naive_flow.py compares the package with.

One run, no memory of earlier runs (so a re-run sends every row again):
1. build the request table with plain SQL (CREATE OR REPLACE TABLE ... AS SELECT), one GenerateContentRequest per row;
2. one Vertex AI batch prediction job for the whole table (aiplatform JobServiceClient, BigQuery in and out);
3. poll it at a fixed interval until it ends;
4. SELECT * from the output table into Python;
5. parse every response in Python (candidates[0].content.parts[0].text -> JSON -> fields);
6. load the parsed rows back into BigQuery (a load job, WRITE_TRUNCATE).
Cf. the "Batch prediction for Gemini" samples: create with BigQuery source/destination, `while job.state not in
finished: time.sleep(...)` with a constant interval, then read the destination table (seed doc, section "BigQuery").

Prints one line `NAIVE_RESULT {json}` with the monotonic time of each phase boundary and the counts.

    python benchmarks/naive_flow.py --bigquery URL --vertex URL --project P --source P.ds.table --dataset naive
        --tag first_5s --poll-seconds 5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from google.cloud import aiplatform_v1, bigquery

from gemini_batch.local.clients import local_bigquery_client, local_job_client

LOCATION = "us-central1"
MODEL = "publishers/google/models/gemini-2.5-flash"
FINISHED = {
    aiplatform_v1.JobState.JOB_STATE_SUCCEEDED,
    aiplatform_v1.JobState.JOB_STATE_FAILED,
    aiplatform_v1.JobState.JOB_STATE_CANCELLED,
    aiplatform_v1.JobState.JOB_STATE_EXPIRED,
    aiplatform_v1.JobState.JOB_STATE_PARTIALLY_SUCCEEDED,
}
PARSED_SCHEMA = [
    bigquery.SchemaField("id", "INT64"),
    bigquery.SchemaField("sentiment", "STRING"),
    bigquery.SchemaField("summary", "STRING"),
    bigquery.SchemaField("status", "STRING"),
]


def request_sql(source: str, response_schema: dict[str, Any]) -> str:
    """The request JSON built by string concatenation, the way a sample's SQL would; TO_JSON_STRING escapes the text."""
    config = json.dumps({"responseMimeType": "application/json", "responseSchema": response_schema})
    head = '{"contents":[{"role":"user","parts":[{"text":'
    tail = '}]}],"generationConfig":' + config + "}"
    if "'" in tail or "\\" in tail:
        raise ValueError("the response schema must hold no quote or backslash: it goes into a SQL string literal")
    return f"select id, concat('{head}', to_json_string(review), '{tail}') as request from `{source}`"


def parse_row(row: Any) -> dict[str, Any]:
    """One output row -> the parsed fields; a failed row or an unparsable answer keeps its status and NULL fields."""
    parsed: dict[str, Any] = {"id": row["id"], "sentiment": None, "summary": None, "status": row["status"]}
    response = row["response"]
    if row["status"] != "" or response is None:
        return parsed
    if isinstance(response, str):
        response = json.loads(response)
    try:
        answer = json.loads(response["candidates"][0]["content"]["parts"][0]["text"])
    except (KeyError, IndexError, TypeError, ValueError):
        parsed["status"] = "unparsable answer"
        return parsed
    parsed["sentiment"] = answer.get("sentiment")
    parsed["summary"] = answer.get("summary")
    return parsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bigquery", required=True, help="BigQuery endpoint URL")
    parser.add_argument("--vertex", required=True, help="Vertex AI endpoint URL")
    parser.add_argument("--project", required=True)
    parser.add_argument("--source", required=True, help="project.dataset.table with columns id, review")
    parser.add_argument("--dataset", required=True, help="dataset for the request, output and parsed tables")
    parser.add_argument("--tag", required=True, help="suffix of this run's tables")
    parser.add_argument("--poll-seconds", type=float, required=True)
    parser.add_argument("--response-schema", required=True, help="JSON of the responseSchema")
    args = parser.parse_args(argv)

    marks: dict[str, float] = {"start": time.monotonic()}
    bq = local_bigquery_client(args.bigquery, args.project, LOCATION)
    requests_table = f"{args.project}.{args.dataset}.requests_{args.tag}"
    parsed_table = f"{args.project}.{args.dataset}.parsed_{args.tag}"

    # 1. the request table
    schema = json.loads(args.response_schema)
    bq.query(f"create or replace table `{requests_table}` as {request_sql(args.source, schema)}").result()
    marks["ctas"] = time.monotonic()

    # 2. one job for the whole table
    jobs = local_job_client(args.vertex)
    job = jobs.create_batch_prediction_job(
        parent=f"projects/{args.project}/locations/{LOCATION}",
        batch_prediction_job=aiplatform_v1.BatchPredictionJob(
            display_name=f"naive-{args.tag}",
            model=MODEL,
            input_config={"instances_format": "bigquery", "bigquery_source": {"input_uri": f"bq://{requests_table}"}},
            output_config={
                "predictions_format": "bigquery",
                "bigquery_destination": {"output_uri": f"bq://{args.project}.{args.dataset}"},
            },
        ),
    )
    marks["created"] = time.monotonic()

    # 3. fixed polling
    while True:
        job = jobs.get_batch_prediction_job(name=job.name)
        if job.state in FINISHED:
            break
        time.sleep(args.poll_seconds)
    marks["finished_seen"] = time.monotonic()
    if job.state != aiplatform_v1.JobState.JOB_STATE_SUCCEEDED:
        print(f"naive flow: job {job.name} ended {job.state.name}: {job.error.message}", file=sys.stderr)
        return 1

    # 4. SELECT * into Python
    output = job.output_info.bigquery_output_table.removeprefix("bq://")
    rows = list(bq.query(f"select * from `{output}`").result())
    marks["selected"] = time.monotonic()

    # 5. parse in Python
    parsed = [parse_row(row) for row in rows]
    marks["parsed"] = time.monotonic()

    # 6. load back
    config = bigquery.LoadJobConfig(schema=PARSED_SCHEMA, write_disposition="WRITE_TRUNCATE")
    bq.load_table_from_json(parsed, parsed_table, job_config=config).result()
    marks["loaded"] = time.monotonic()

    stats = job.completion_stats
    result = {
        "marks": marks,
        "job": job.name,
        "requests_sent": int(stats.successful_count) + int(stats.failed_count) + int(stats.incomplete_count),
        "answered": sum(1 for p in parsed if p["status"] == ""),
        "output_rows": len(rows),
        "job_seconds": (job.end_time - job.create_time).total_seconds(),
    }
    print("NAIVE_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
