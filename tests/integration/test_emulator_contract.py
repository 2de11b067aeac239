"""The local Vertex AI emulator's contract, checked only through the real clients.

Jobs are driven with google.cloud.aiplatform_v1.JobServiceClient (REST) and data is read with google-cloud-
bigquery, against the session's local stack (the emulator as a subprocess, as LocalStack runs it). Fault-
injection cases start their own in-process VertexEmulator on the same bqemulator, so their settings cannot
leak into other tests.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from google.api_core import exceptions
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1, aiplatform_v1beta1, bigquery

from gemini_batch.emulator import EmulatorConfig, VertexEmulator
from gemini_batch.local.clients import local_job_client
from gemini_batch.local.stack import StackInfo
from tests.openapi_schema import openapi_to_jsonschema
from tests.unit.test_emulator_openai import FakeChatServer, chat_answer

pytestmark = pytest.mark.integration

LOCATION = "us-central1"
PROJECT_NUMBER = "123456789012"
MODEL = "publishers/google/models/gemini-2.5-flash"
State = aiplatform_v1.JobState
FINISHED = {State.JOB_STATE_SUCCEEDED, State.JOB_STATE_FAILED, State.JOB_STATE_CANCELLED}
REVIEW_SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "sentiment": {"type": "STRING", "enum": ["positive", "negative", "neutral"]},
        "topics": {
            "type": "ARRAY",
            "items": {"type": "STRING", "enum": ["shipping", "quality", "price", "service"]},
            "minItems": 1,
            "maxItems": 3,
        },
        "rating": {"type": "INTEGER", "minimum": 1, "maximum": 5},
        "summary": {"type": "STRING"},
        "would_recommend": {"type": "BOOLEAN"},
        "follow_up": {"type": "STRING", "nullable": True},
    },
    "required": ["sentiment", "topics", "rating"],
    "propertyOrdering": ["sentiment", "topics", "rating", "summary", "would_recommend", "follow_up"],
}
POSITIVE_REVIEW = "Great blender, I love it. Excellent quality and it works perfectly."
NEGATIVE_REVIEW = "Arrived broken after very slow shipping. Terrible, I want a refund."


# -- helpers -------------------------------------------------------------------------------------------------
def review_request(
    review: str, *, schema: dict[str, Any] | None = REVIEW_SCHEMA, max_tokens: int | None = None
) -> dict[str, Any]:
    """A GenerateContentRequest like the package's request macros write: instruction + review, JSON output."""
    config: dict[str, Any] = {"temperature": 0.0}
    if schema is not None:
        config |= {"responseMimeType": "application/json", "responseSchema": schema}
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    text = f"Classify the customer review (sentiment and topics).\n\nReview: {review}"
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], "generationConfig": config}


def load_table(
    bq: bigquery.Client, table_id: str, schema: list[bigquery.SchemaField], rows: list[dict[str, Any]]
) -> None:
    """Create `table_id` with `schema` (even with no rows) and load `rows` into it."""
    bq.create_table(bigquery.Table(table_id, schema=schema))
    if rows:
        config = bigquery.LoadJobConfig(schema=schema, write_disposition="WRITE_APPEND")
        bq.load_table_from_json(rows, table_id, job_config=config).result()


def make_input(
    bq: bigquery.Client,
    dataset: str,
    requests: list[Any],
    *,
    table: str = "input",
    request_type: str = "STRING",
    extra: list[tuple[bigquery.SchemaField, list[Any]]] | None = None,
) -> str:
    """An input table: `id` INT64, `request` (dicts are serialized for STRING), and optional extra columns."""
    table_id = f"{bq.project}.{dataset}.{table}"
    schema = [bigquery.SchemaField("id", "INT64"), bigquery.SchemaField("request", request_type)]
    schema += [column for column, _ in extra or []]
    rows = []
    for i, request in enumerate(requests):
        value = json.dumps(request) if request_type == "STRING" and isinstance(request, dict) else request
        row = {"id": i, "request": value}
        for column, values in extra or []:
            row[column.name] = values[i]
        rows.append(row)
    load_table(bq, table_id, schema, rows)
    return f"bq://{table_id}"


def parent_of(project: str, location: str = LOCATION) -> str:
    return f"projects/{project}/locations/{location}"


def list_jobs(
    client: aiplatform_v1.JobServiceClient, project: str, filter: str = "", page_token: str = ""
) -> list[aiplatform_v1.BatchPredictionJob]:
    """Every job listed (all pages); `filter` and `page_token` can only travel inside a request."""
    request = {"parent": parent_of(project), "filter": filter, "page_token": page_token}
    return list(client.list_batch_prediction_jobs(request=request))


def create_job(
    client: aiplatform_v1.JobServiceClient,
    project: str,
    input_uri: str,
    output_uri: str,
    *,
    display_name: str = "test-job",
    labels: dict[str, str] | None = None,
    model: str = MODEL,
    parent: str | None = None,
) -> aiplatform_v1.BatchPredictionJob:
    job = aiplatform_v1.BatchPredictionJob(
        display_name=display_name,
        model=model,
        input_config=aiplatform_v1.BatchPredictionJob.InputConfig(
            instances_format="bigquery", bigquery_source=aiplatform_v1.BigQuerySource(input_uri=input_uri)
        ),
        output_config=aiplatform_v1.BatchPredictionJob.OutputConfig(
            predictions_format="bigquery",
            bigquery_destination=aiplatform_v1.BigQueryDestination(output_uri=output_uri),
        ),
        labels=labels or {},
    )
    return client.create_batch_prediction_job(parent=parent or parent_of(project), batch_prediction_job=job)


def wait_done(
    client: aiplatform_v1.JobServiceClient, name: str, timeout: float = 30.0
) -> aiplatform_v1.BatchPredictionJob:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_batch_prediction_job(name=name)
        if job.state in FINISHED:
            return job
        assert time.monotonic() < deadline, f"job still {job.state.name} after {timeout}s"
        time.sleep(0.05)


def run_job(
    client: aiplatform_v1.JobServiceClient, project: str, input_uri: str, dataset: str, **kwargs: Any
) -> aiplatform_v1.BatchPredictionJob:
    job = create_job(client, project, input_uri, f"bq://{project}.{dataset}", **kwargs)
    return wait_done(client, job.name)


def output_rows(bq: bigquery.Client, job: aiplatform_v1.BatchPredictionJob) -> list[dict[str, Any]]:
    table = job.output_info.bigquery_output_table.removeprefix("bq://")
    return sorted((dict(row.items()) for row in bq.list_rows(table)), key=lambda r: r["id"])


def answer_text(row: dict[str, Any]) -> str:
    return str(row["response"]["candidates"][0]["content"]["parts"][-1]["text"])


def stats(job: aiplatform_v1.BatchPredictionJob) -> tuple[int, int, int]:
    s = job.completion_stats
    return s.successful_count, s.failed_count, s.incomplete_count


def rest(base_url: str, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """A raw HTTP call, for checking the wire format itself (what the client hides)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def error_status(err: pytest.ExceptionInfo[exceptions.GoogleAPICallError]) -> str:
    """The google.rpc status name in the error body (REST maps 400 to BadRequest for several statuses)."""
    response = err.value.response
    assert response is not None
    return str(response.json()["error"]["status"])


@pytest.fixture()
def project(local_stack: StackInfo) -> str:
    return local_stack.project


@pytest.fixture()
def emulator_factory(
    local_stack: StackInfo, tmp_path: Path
) -> Iterator[Callable[..., tuple[VertexEmulator, aiplatform_v1.JobServiceClient]]]:
    """Start in-process emulators (on the session's bqemulator) with a config; stopped after the test."""
    started: list[VertexEmulator] = []

    def start(state_dir: Path | None = None, **settings: Any) -> tuple[VertexEmulator, aiplatform_v1.JobServiceClient]:
        config = EmulatorConfig.from_dict({"queue_delay_seconds": 0.05, **settings})
        emulator = VertexEmulator(config, local_stack.bigquery_endpoint, local_stack.project, state_dir)
        url = emulator.start()
        started.append(emulator)
        return emulator, local_job_client(url)

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture()
def other_dataset(bq_client: bigquery.Client) -> Iterator[Callable[[str], str]]:
    """Datasets in another location (multi-region US, europe-west4), dropped after the test."""
    made: list[str] = []

    def make(location: str) -> str:
        name = f"t_{uuid.uuid4().hex[:10]}"
        ds = bigquery.Dataset(f"{bq_client.project}.{name}")
        ds.location = location
        bq_client.create_dataset(ds)
        made.append(name)
        return name

    yield make
    for name in made:
        bq_client.delete_dataset(name, delete_contents=True, not_found_ok=True)


# -- create / get / ids / names ------------------------------------------------------------------------------
def test_create_returns_pending_job_with_numeric_id_and_number_in_name(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = create_job(job_client, project, uri, f"bq://{project}.{dataset}", labels={"team": "data"})
    assert job.state == State.JOB_STATE_PENDING
    assert re.fullmatch(rf"projects/{PROJECT_NUMBER}/locations/{LOCATION}/batchPredictionJobs/\d{{19}}", job.name)
    assert job.display_name == "test-job"
    assert job.model == MODEL
    assert dict(job.labels) == {"team": "data"}
    assert job.create_time.timestamp() > time.time() - 60
    assert job.input_config.bigquery_source.input_uri == uri
    fetched = job_client.get_batch_prediction_job(name=job.name)
    assert fetched.name == job.name
    wait_done(job_client, job.name)


def test_project_number_and_id_are_aliases(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = create_job(job_client, project, uri, f"bq://{project}.{dataset}", parent=parent_of(PROJECT_NUMBER))
    job_id = job.name.rsplit("/", 1)[1]
    by_id = job_client.get_batch_prediction_job(name=f"{parent_of(project)}/batchPredictionJobs/{job_id}")
    assert by_id.name == job.name
    for alias in (project, PROJECT_NUMBER):
        names = {j.name for j in list_jobs(job_client, alias)}
        assert job.name in names
    with pytest.raises(exceptions.Forbidden):
        job_client.get_batch_prediction_job(name=f"{parent_of('other-project')}/batchPredictionJobs/{job_id}")
    wait_done(job_client, job.name)


def test_v1beta1_paths_serve_the_same_jobs(
    job_client: aiplatform_v1.JobServiceClient,
    local_stack: StackInfo,
    bq_client: bigquery.Client,
    dataset: str,
    project: str,
) -> None:
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = run_job(job_client, project, uri, dataset)
    beta = aiplatform_v1beta1.JobServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=local_stack.vertex_endpoint),
    )
    fetched = beta.get_batch_prediction_job(name=job.name)
    assert fetched.state == aiplatform_v1beta1.JobState.JOB_STATE_SUCCEEDED
    assert fetched.output_info.bigquery_output_table == job.output_info.bigquery_output_table


def test_wire_format_enums_int64_times_and_errors(
    job_client: aiplatform_v1.JobServiceClient,
    local_stack: StackInfo,
    bq_client: bigquery.Client,
    dataset: str,
    project: str,
) -> None:
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW), "not json"])
    job = run_job(job_client, project, uri, dataset)
    status, body = rest(local_stack.vertex_endpoint, "GET", f"/v1/{job.name}?$alt=json;enum-encoding=int")
    assert status == 200
    assert body["state"] == "JOB_STATE_SUCCEEDED"
    assert body["completionStats"] == {"successfulCount": "1", "failedCount": "1", "incompleteCount": "0"}
    for key in ("createTime", "startTime", "endTime", "updateTime"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body[key]), key
    assert body["createTime"] <= body["startTime"] <= body["endTime"] <= body["updateTime"]
    missing = f"/v1/{parent_of(project)}/batchPredictionJobs/1234567890123456789"
    status, body = rest(local_stack.vertex_endpoint, "GET", missing)
    assert status == 404
    assert set(body) == {"error"} and body["error"]["code"] == 404 and body["error"]["status"] == "NOT_FOUND"


# -- create validation and error mapping ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": ""}, "model"),
        ({"model": "gemini-2.5-flash"}, "Invalid model name"),
        ({"model": "publishers/meta/models/llama-3"}, "Invalid model name"),
        ({"display_name": ""}, "display_name"),
        ({"input_uri": "bq://local-project.only_dataset"}, "not valid"),
        ({"input_uri": "gs://bucket/input.jsonl"}, "not valid"),
        ({"input_uri": "bq://local-project.ds." + "t" * 2000}, "2000"),
        ({"output_uri": "bq://local-project"}, "not valid"),
        ({"instances_format": "jsonl"}, "use 'bigquery' with bigquery_source or 'jsonl' with gcs_source"),
        ({"predictions_format": "jsonl"}, "use 'bigquery' with bigquery_destination or 'jsonl' with gcs_destination"),
        ({"labels": {"Team": "x"}}, "Invalid label"),
    ],
)
def test_create_rejects_invalid_jobs_with_invalid_argument(
    job_client: aiplatform_v1.JobServiceClient, project: str, change: dict[str, Any], message: str
) -> None:
    fields = {
        "display_name": "bad-job",
        "model": MODEL,
        "instances_format": "bigquery",
        "input_uri": f"bq://{project}.ds.t",
        "predictions_format": "bigquery",
        "output_uri": f"bq://{project}.ds",
        "labels": {},
    } | change
    job = {
        "display_name": fields["display_name"],
        "model": fields["model"],
        "input_config": {
            "instances_format": fields["instances_format"],
            "bigquery_source": {"input_uri": fields["input_uri"]},
        },
        "output_config": {
            "predictions_format": fields["predictions_format"],
            "bigquery_destination": {"output_uri": fields["output_uri"]},
        },
        "labels": fields["labels"],
    }
    with pytest.raises(exceptions.BadRequest) as err:
        job_client.create_batch_prediction_job(parent=parent_of(project), batch_prediction_job=job)
    assert error_status(err) == "INVALID_ARGUMENT"
    assert message in err.value.message


def test_create_rejects_jsonl_input_to_a_bigquery_table(
    job_client: aiplatform_v1.JobServiceClient, project: str
) -> None:
    # The output schema Vertex derives from JSONL lines is not documented, so the emulator refuses this combination
    # (the JSONL paths themselves are covered in test_emulator_jsonl.py).
    job = {
        "display_name": "gcs",
        "model": MODEL,
        "input_config": {"instances_format": "jsonl", "gcs_source": {"uris": ["gs://bucket-1/in.jsonl"]}},
        "output_config": {
            "predictions_format": "bigquery",
            "bigquery_destination": {"output_uri": f"bq://{project}.ds"},
        },
    }
    with pytest.raises(exceptions.BadRequest, match="writes JSONL input"):
        job_client.create_batch_prediction_job(parent=parent_of(project), batch_prediction_job=job)


def test_tuned_model_names_are_accepted(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    tuned = f"projects/{PROJECT_NUMBER}/locations/{LOCATION}/models/4567"
    _, client = emulator_factory(tuned_models=[tuned])
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = run_job(client, project, uri, dataset, model=tuned)
    assert job.state == State.JOB_STATE_SUCCEEDED
    assert output_rows(bq_client, job)[0]["response"]["modelVersion"] == "4567"
    with pytest.raises(exceptions.BadRequest, match="location"):
        create_job(
            client,
            project,
            uri,
            f"bq://{project}.{dataset}",
            model=tuned.replace(LOCATION, "europe-west4"),
        )


def test_get_errors_map_to_client_exceptions(job_client: aiplatform_v1.JobServiceClient, project: str) -> None:
    with pytest.raises(exceptions.NotFound):
        job_client.get_batch_prediction_job(name=f"{parent_of(project)}/batchPredictionJobs/1234567890123456789")
    with pytest.raises(exceptions.BadRequest) as err:
        job_client.get_batch_prediction_job(name=f"{parent_of(project)}/batchPredictionJobs/not-a-number")
    assert error_status(err) == "INVALID_ARGUMENT"
    with pytest.raises(exceptions.BadRequest) as err:
        list_jobs(job_client, project, filter="colour=red")
    assert error_status(err) == "INVALID_ARGUMENT"


# -- lifecycle -----------------------------------------------------------------------------------------------
def test_job_goes_pending_running_succeeded(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(queue_delay_seconds=0.5, run_delay_seconds=0.5)
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)] * 3)
    job = create_job(client, project, uri, f"bq://{project}.{dataset}")
    seen: list[int] = []
    while not seen or seen[-1] not in FINISHED:
        state = client.get_batch_prediction_job(name=job.name).state
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.05)
    assert seen == [State.JOB_STATE_PENDING, State.JOB_STATE_RUNNING, State.JOB_STATE_SUCCEEDED]
    done = client.get_batch_prediction_job(name=job.name)
    assert done.create_time < done.start_time < done.end_time <= done.update_time
    assert (done.start_time - done.create_time).total_seconds() >= 0.45


def test_output_table_columns_types_status_and_stats(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    extra = [
        (bigquery.SchemaField("note", "STRING"), ["first", None, "third"]),
        (bigquery.SchemaField("amount", "NUMERIC"), ["1.25", "2", None]),
        (bigquery.SchemaField("seen_at", "TIMESTAMP"), ["2024-05-01T10:00:00Z", None, None]),
        (bigquery.SchemaField("day", "DATE"), ["2024-05-01", None, None]),
        (bigquery.SchemaField("flag", "BOOL"), [True, False, None]),
        (bigquery.SchemaField("score", "FLOAT64"), [0.5, None, 1.5]),
    ]
    requests = [review_request(POSITIVE_REVIEW), "{broken json", review_request(NEGATIVE_REVIEW)]
    uri = make_input(bq_client, dataset, requests, extra=extra)
    before = time.time()
    job = run_job(job_client, project, uri, dataset)
    assert job.state == State.JOB_STATE_SUCCEEDED
    assert stats(job) == (2, 1, 0)
    table_uri = job.output_info.bigquery_output_table
    assert re.fullmatch(
        rf"bq://{project}\.{dataset}\.predictions_\d{{4}}_\d\d_\d\dT\d\d_\d\d_\d\d_\d{{3}}Z_\d{{3}}",
        table_uri,
    )
    assert job.output_info.bigquery_output_dataset == f"bq://{project}.{dataset}"
    table = bq_client.get_table(table_uri.removeprefix("bq://"))
    source = bq_client.get_table(uri.removeprefix("bq://"))
    input_columns = [(f.name, f.field_type) for f in source.schema]
    assert [(f.name, f.field_type) for f in table.schema] == [
        *input_columns,
        ("response", "JSON"),
        ("status", "STRING"),
        ("processed_time", "TIMESTAMP"),
    ]
    assert [name for name, _ in input_columns] == [
        "id",
        "request",
        "note",
        "amount",
        "seen_at",
        "day",
        "flag",
        "score",
    ]
    rows = output_rows(bq_client, job)
    assert [r["note"] for r in rows] == ["first", None, "third"]
    assert Decimal(rows[0]["amount"]) == Decimal("1.25") and rows[2]["amount"] is None
    assert rows[0]["seen_at"].isoformat() == "2024-05-01T10:00:00+00:00"
    assert str(rows[0]["day"]) == "2024-05-01"
    assert [r["flag"] for r in rows] == [True, False, None]
    assert rows[2]["score"] == 1.5
    assert json.loads(rows[0]["request"]) == requests[0]
    assert rows[1]["request"] == "{broken json"
    assert rows[0]["status"] == "" and rows[2]["status"] == ""
    assert rows[1]["status"].startswith('Bad Request: {"error": {"code": 400, "message": "Invalid JSON payload')
    assert rows[1]["status"].endswith('"status": "INVALID_ARGUMENT"}}')
    # NULL: Google shows no failed BigQuery row; the reading of vertex-output-shapes.md Q3 (a JSONL line has none)
    assert rows[1]["response"] is None, "a failed row has no response"
    assert rows[0]["response"]["candidates"][0]["content"]["role"] == "model"
    assert all(before - 1 <= r["processed_time"].timestamp() <= time.time() + 1 for r in rows)


def test_request_column_may_be_json(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    requests = [review_request(POSITIVE_REVIEW), review_request(NEGATIVE_REVIEW)]
    uri = make_input(bq_client, dataset, requests, request_type="JSON")
    job = run_job(job_client, project, uri, dataset)
    assert stats(job) == (2, 0, 0)
    table = bq_client.get_table(job.output_info.bigquery_output_table.removeprefix("bq://"))
    assert {f.name: f.field_type for f in table.schema}["request"] == "JSON"
    rows = output_rows(bq_client, job)
    assert [r["request"] for r in rows] == requests
    assert json.loads(answer_text(rows[1]))["sentiment"] == "negative"


@pytest.mark.parametrize("echo", ["vertex", "verbatim"])
def test_the_request_column_is_re_serialised_as_vertex_does_unless_verbatim(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str, echo: str
) -> None:
    """Vertex's form of Google's notebook (intro_batch_prediction.ipynb at 837b06614): keys sorted, every part padded
    with the part fields of the whole input as null; `echo: verbatim` keeps the text as sent."""
    _, client = emulator_factory(echo=echo)
    text = {"role": "user", "parts": [{"text": "List objects in this image."}]}
    image = {"file_data": {"file_uri": "gs://cloud-samples-data/generative-ai/image/office-desk.jpeg",
                           "mime_type": "image/jpeg"}}  # fmt: skip
    sent = [
        '{"contents": [' + json.dumps(text) + '], "generationConfig":{"temperature": 0.4}}',
        json.dumps({"contents": [{"role": "user", "parts": [{"text": "And this one?"}, image]}]}),
    ]
    rows = output_rows(bq_client, run_job(client, project, make_input(bq_client, dataset, sent), dataset))
    if echo == "verbatim":
        assert [r["request"] for r in rows] == sent
        return
    assert [r["request"] for r in rows] == [
        '{"contents": [{"parts": [{"file_data": null, "text": "List objects in this image."}], "role": "user"}], '
        '"generationConfig": {"temperature": 0.4}}',
        '{"contents": [{"parts": [{"file_data": null, "text": "And this one?"}, {"file_data": {"file_uri": '
        '"gs://cloud-samples-data/generative-ai/image/office-desk.jpeg", "mime_type": "image/jpeg"}, "text": null}], '
        '"role": "user"}], "generationConfig": null}',
    ]
    assert all(list(r["response"]) == sorted(r["response"]) for r in rows)


def test_bad_rows_get_gemini_status_and_job_still_succeeds(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    good = review_request(POSITIVE_REVIEW)
    user = {"role": "user", "parts": [{"text": "hi"}]}
    cases = [
        (good, ""),
        ("{not json", "Invalid JSON payload received."),
        ({"contents": []}, "empty contents field"),
        ({"generationConfig": {}}, "empty contents field"),
        (
            {"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]},
            "Please use a valid role: user, model.",
        ),
        ({"contents": [{"role": "user", "parts": []}]}, "at least one parts field"),
        ({"contents": [{"role": "user", "parts": [{"text": ""}]}]}, "empty text parameter"),
        ({"contents": [user], "temprature": 1}, 'Unknown name \\"temprature\\"'),
        ({"contents": [user], "generationConfig": {"temperature": 5}}, "temperature value of 5"),
        (
            {"contents": [user], "generationConfig": {"responseSchema": {"type": "STRING"}}},
            "response_mime_type",
        ),
        (None, "empty (NULL)"),
    ]
    uri = make_input(bq_client, dataset, [request for request, _ in cases])
    job = run_job(job_client, project, uri, dataset)
    assert job.state == State.JOB_STATE_SUCCEEDED
    assert stats(job) == (1, len(cases) - 1, 0)
    for row, (_, expected) in zip(output_rows(bq_client, job), cases, strict=True):
        if expected == "":
            assert row["status"] == "" and row["response"]["candidates"]
        else:
            assert row["status"].startswith("Bad Request: "), row["status"]
            assert expected in row["status"], row["status"]
            assert row["response"] is None


def test_snake_case_request_keys_are_accepted(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    camel = review_request(NEGATIVE_REVIEW)
    snake = {
        "contents": camel["contents"],
        "generation_config": {
            "temperature": 0.0,
            "response_mime_type": "application/json",
            "response_schema": {
                **REVIEW_SCHEMA,
                "property_ordering": REVIEW_SCHEMA["propertyOrdering"],
            },
        },
    }
    del snake["generation_config"]["response_schema"]["propertyOrdering"]
    uri = make_input(bq_client, dataset, [camel, snake])
    rows = output_rows(bq_client, run_job(job_client, project, uri, dataset))
    assert rows[0]["status"] == rows[1]["status"] == ""
    assert rows[0]["response"] == rows[1]["response"], "snake_case and camelCase spellings are the same request"


def test_empty_input_succeeds_with_an_empty_output_table(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    uri = make_input(bq_client, dataset, [])
    job = run_job(job_client, project, uri, dataset)
    assert job.state == State.JOB_STATE_SUCCEEDED
    assert stats(job) == (0, 0, 0)
    assert output_rows(bq_client, job) == []


def test_named_output_table_is_created_and_never_reused(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    target = f"bq://{project}.{dataset}.answers"
    first = wait_done(job_client, create_job(job_client, project, uri, target).name)
    assert first.state == State.JOB_STATE_SUCCEEDED
    assert first.output_info.bigquery_output_table == target
    assert len(output_rows(bq_client, first)) == 1
    second = wait_done(job_client, create_job(job_client, project, uri, target).name)
    assert second.state == State.JOB_STATE_FAILED
    assert second.error.code == 3 and "already exists" in second.error.message
    assert len(output_rows(bq_client, first)) == 1


def test_existing_output_table_append_mode(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(existing_output_table="append")
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    target = f"bq://{project}.{dataset}.answers"
    for _ in range(2):
        assert wait_done(client, create_job(client, project, uri, target).name).state == State.JOB_STATE_SUCCEEDED
    assert bq_client.get_table(target.removeprefix("bq://")).num_rows == 2


# -- import failures -----------------------------------------------------------------------------------------
def _table_with(bq: bigquery.Client, dataset: str, *columns: bigquery.SchemaField) -> str:
    table_id = f"{bq.project}.{dataset}.bad_{uuid.uuid4().hex[:6]}"
    bq.create_table(bigquery.Table(table_id, schema=list(columns)))
    return f"bq://{table_id}"


REQUEST_COLUMN = bigquery.SchemaField("request", "STRING")
IMPORT_FAILURES: dict[str, tuple[Callable[[bigquery.Client, str], str], str]] = {
    "missing table": (lambda bq, ds: f"bq://{bq.project}.{ds}.nope", "not found"),
    "missing dataset": (lambda bq, ds: f"bq://{bq.project}.no_such_dataset.t", "not found in location"),
    "no request column": (
        lambda bq, ds: _table_with(bq, ds, bigquery.SchemaField("prompt", "STRING")),
        "no `request` column",
    ),
    "request not text": (
        lambda bq, ds: _table_with(bq, ds, bigquery.SchemaField("request", "INT64")),
        "must be STRING or JSON",
    ),
    "reserved response": (
        lambda bq, ds: _table_with(bq, ds, REQUEST_COLUMN, bigquery.SchemaField("response", "STRING")),
        "reserved",
    ),
    "reserved status": (
        lambda bq, ds: _table_with(bq, ds, REQUEST_COLUMN, bigquery.SchemaField("status", "STRING")),
        "reserved",
    ),
    "reserved processed_time": (
        lambda bq, ds: _table_with(bq, ds, REQUEST_COLUMN, bigquery.SchemaField("processed_time", "TIMESTAMP")),
        "reserved",
    ),
    "array column": (
        lambda bq, ds: _table_with(bq, ds, REQUEST_COLUMN, bigquery.SchemaField("tags", "STRING", mode="REPEATED")),
        "type ARRAY",
    ),
    "struct column": (
        lambda bq, ds: _table_with(
            bq,
            ds,
            REQUEST_COLUMN,
            bigquery.SchemaField("meta", "RECORD", fields=[bigquery.SchemaField("a", "INT64")]),
        ),
        "type STRUCT",
    ),
    "range column": (
        lambda bq, ds: _table_with(
            bq, ds, REQUEST_COLUMN, bigquery.SchemaField("span", "RANGE", range_element_type="DATE")
        ),
        "type RANGE",
    ),
    "datetime column": (
        lambda bq, ds: _table_with(bq, ds, REQUEST_COLUMN, bigquery.SchemaField("at", "DATETIME")),
        "type DATETIME",
    ),
    "geography column": (
        lambda bq, ds: _table_with(bq, ds, REQUEST_COLUMN, bigquery.SchemaField("place", "GEOGRAPHY")),
        "type GEOGRAPHY",
    ),
}


@pytest.mark.parametrize("case", list(IMPORT_FAILURES))
def test_unusable_input_fails_the_job_with_import_error(
    job_client: aiplatform_v1.JobServiceClient,
    bq_client: bigquery.Client,
    dataset: str,
    project: str,
    case: str,
) -> None:
    make_uri, reason = IMPORT_FAILURES[case]
    job = run_job(job_client, project, make_uri(bq_client, dataset), dataset)
    assert job.state == State.JOB_STATE_FAILED
    assert job.error.code == 3
    assert job.error.message.startswith("Failed to import data. ")
    assert reason in job.error.message


@pytest.mark.parametrize(
    ("side", "location", "reason"),
    [
        ("input", "US", "multi-region"),
        ("input", "europe-west4", "not found in location us-central1"),
        ("output", "EU", "multi-region"),
        ("output", "europe-west4", "not found in location us-central1"),
    ],
)
def test_datasets_outside_the_job_region_fail_the_job(
    job_client: aiplatform_v1.JobServiceClient,
    bq_client: bigquery.Client,
    dataset: str,
    other_dataset: Callable[[str], str],
    project: str,
    side: str,
    location: str,
    reason: str,
) -> None:
    elsewhere = other_dataset(location)
    input_dataset, output_dataset = (elsewhere, dataset) if side == "input" else (dataset, elsewhere)
    uri = make_input(bq_client, input_dataset, [review_request(POSITIVE_REVIEW)])
    job = run_job(job_client, project, uri, output_dataset)
    assert job.state == State.JOB_STATE_FAILED
    assert job.error.code == 3
    assert job.error.message.startswith("Failed to import data. ")
    assert reason in job.error.message and side.capitalize() in job.error.message


def test_too_many_rows_fail_the_job(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(max_input_rows=3)
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)] * 4)
    job = run_job(client, project, uri, dataset)
    assert job.state == State.JOB_STATE_FAILED
    assert job.error.code == 3 and "at most 3 requests" in job.error.message


# -- cancel / delete -----------------------------------------------------------------------------------------
def test_cancel_mid_run_keeps_the_chunks_written(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(per_row_latency_seconds=0.01, chunk_rows=10)
    total = 300
    uri = make_input(bq_client, dataset, [review_request(f"{POSITIVE_REVIEW} #{i}") for i in range(total)])
    job = create_job(client, project, uri, f"bq://{project}.{dataset}")
    deadline = time.monotonic() + 20
    while True:
        current = client.get_batch_prediction_job(name=job.name)
        table = current.output_info.bigquery_output_table.removeprefix("bq://")
        if table and (bq_client.get_table(table).num_rows or 0) >= 10:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.cancel_batch_prediction_job(name=job.name)
    assert client.get_batch_prediction_job(name=job.name).state in (
        State.JOB_STATE_CANCELLING,
        State.JOB_STATE_CANCELLED,
    )
    done = wait_done(client, job.name)
    assert done.state == State.JOB_STATE_CANCELLED
    assert done.error.code == 1
    written = len(output_rows(bq_client, done))
    successful, failed, incomplete = stats(done)
    assert 10 <= written < total
    assert (successful, failed, incomplete) == (written, 0, total - written)
    time.sleep(0.3)
    assert len(output_rows(bq_client, done)) == written, "nothing is written after the job is cancelled"


def test_cancel_pending_job_and_cancel_of_finished_job(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(queue_delay_seconds=30)
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = create_job(client, project, uri, f"bq://{project}.{dataset}")
    assert client.cancel_batch_prediction_job(name=job.name) is None
    done = wait_done(client, job.name, timeout=5)
    assert done.state == State.JOB_STATE_CANCELLED
    assert not done.output_info.bigquery_output_table
    with pytest.raises(exceptions.BadRequest) as err:
        client.cancel_batch_prediction_job(name=job.name)
    assert error_status(err) == "FAILED_PRECONDITION"


def test_delete_only_finished_jobs(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    emulator, client = emulator_factory(queue_delay_seconds=30)
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = create_job(client, project, uri, f"bq://{project}.{dataset}")
    with pytest.raises(exceptions.BadRequest) as err:
        client.delete_batch_prediction_job(name=job.name)
    assert error_status(err) == "FAILED_PRECONDITION"
    client.cancel_batch_prediction_job(name=job.name)
    wait_done(client, job.name, timeout=5)
    operation = client.delete_batch_prediction_job(name=job.name)
    assert operation.done()
    operation.result(timeout=5)
    assert operation.operation.name.startswith(f"projects/{PROJECT_NUMBER}/locations/{LOCATION}/operations/")
    with pytest.raises(exceptions.NotFound):
        client.get_batch_prediction_job(name=job.name)
    assert job.name not in {j.name for j in list_jobs(client, project)}
    status, body = rest(emulator.base_url, "GET", f"/v1/{operation.operation.name}")
    assert status == 200 and body["done"] is True


# -- list ----------------------------------------------------------------------------------------------------
def test_list_filters_and_paging(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory()
    good = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    missing = f"bq://{project}.{dataset}.missing"
    output = f"bq://{project}.{dataset}"
    plan = [
        ("alpha-1", good, {}),
        ("alpha-2", missing, {}),
        ("beta-1", good, {"team": "x"}),
        ("beta-2", missing, {"team": "y"}),
    ]
    names = {}
    created_between = ""
    for i, (display, uri, labels) in enumerate(plan):
        if i == 2:
            time.sleep(0.05)
            created_between = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            time.sleep(0.05)
        names[display] = create_job(client, project, uri, output, display_name=display, labels=labels).name
    for name in names.values():
        wait_done(client, name)

    def listed(filter_text: str) -> set[str]:
        jobs = list_jobs(client, project, filter=filter_text)
        return {j.display_name for j in jobs}

    assert listed("") == set(names)
    assert listed('display_name="alpha-1"') == {"alpha-1"}
    assert listed('displayName!="alpha-1"') == {"alpha-2", "beta-1", "beta-2"}
    assert listed('display_name:"alpha-*"') == {"alpha-1", "alpha-2"}
    assert listed('display_name:"*-2"') == {"alpha-2", "beta-2"}
    assert listed("state=JOB_STATE_FAILED") == {"alpha-2", "beta-2"}
    assert listed('state!="JOB_STATE_FAILED"') == {"alpha-1", "beta-1"}
    assert listed('state="JOB_STATE_SUCCEEDED" AND display_name:"beta*"') == {"beta-1"}
    assert listed("labels.team=x") == {"beta-1"}
    assert listed("labels.team:*") == {"beta-1", "beta-2"}
    assert listed('display_name="alpha-1" OR display_name="beta-2"') == {"alpha-1", "beta-2"}
    assert listed("NOT state=JOB_STATE_FAILED") == {"alpha-1", "beta-1"}
    assert listed("-labels.team:*") == {"alpha-1", "alpha-2"}
    assert listed('(display_name="alpha-1" OR labels.team=y) AND state=JOB_STATE_FAILED') == {"beta-2"}
    assert listed(f'create_time>"{created_between}"') == {"beta-1", "beta-2"}
    assert listed(f'create_time<="{created_between}" AND labels.team:*') == set()

    pager = client.list_batch_prediction_jobs(request={"parent": parent_of(project), "page_size": 3})
    pages = list(pager.pages)
    assert [len(p.batch_prediction_jobs) for p in pages] == [3, 1]
    assert pages[0].next_page_token and not pages[1].next_page_token
    order = [j.display_name for p in pages for j in p.batch_prediction_jobs]
    assert order == ["beta-2", "beta-1", "alpha-2", "alpha-1"], "newest first, each job once"
    with pytest.raises(exceptions.BadRequest):
        list_jobs(client, project, page_token="garbage")


# -- responder -----------------------------------------------------------------------------------------------
def test_deterministic_responder_is_reproducible_and_realistic(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    prose = {"contents": [{"role": "user", "parts": [{"text": "Explain what a dbt model is in two sentences."}]}]}
    requests = [
        review_request(POSITIVE_REVIEW),
        review_request(POSITIVE_REVIEW),
        review_request(NEGATIVE_REVIEW),
        prose,
    ]
    uri = make_input(bq_client, dataset, requests)
    first = output_rows(bq_client, run_job(job_client, project, uri, dataset))
    second = output_rows(bq_client, run_job(job_client, project, uri, dataset))

    def canonical(row: dict[str, Any]) -> str:
        return json.dumps(row["response"], sort_keys=True)

    assert canonical(first[0]) == canonical(first[1]) == canonical(second[0]), "same request, same response"
    assert [canonical(r) for r in first] == [canonical(r) for r in second]
    assert canonical(first[0]) != canonical(first[2])
    response = first[3]["response"]
    candidate = response["candidates"][0]
    assert candidate["content"]["role"] == "model" and candidate["finishReason"] == "STOP"
    assert candidate["avgLogprobs"] < 0
    assert len(answer_text(first[3]).split()) >= 5
    usage = response["usageMetadata"]
    prompt = prose["contents"][0]["parts"][0]["text"]
    assert usage["promptTokenCount"] == math.ceil(len(prompt) / 4)
    assert usage["candidatesTokenCount"] == math.ceil(len(answer_text(first[3])) / 4)
    assert usage["thoughtsTokenCount"] > 0, "gemini-2.5-flash thinks by default"
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )
    assert response["modelVersion"] == "gemini-2.5-flash-001"
    assert response["responseId"] and response["createTime"].endswith("Z")


def test_structured_output_validates_and_follows_the_review(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    lower_case = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "qty": {"type": "integer", "minimum": 0}},
                    "required": ["name", "qty"],
                },
                "minItems": 2,
                "maxItems": 4,
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "urgent": {"type": "boolean"},
        },
        "required": ["items", "confidence"],
    }
    json_schema = {
        "type": "object",
        "properties": {
            "label": {"enum": ["spam", "ham"]},
            "score": {"type": "number", "exclusiveMaximum": 10},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "maxItems": 2},
            "kind": {"const": "review"},
            "note": {"type": ["string", "null"], "maxLength": 12},
        },
        "required": ["label", "score", "tags", "kind", "note"],
        "additionalProperties": False,
        "$defs": {"tag": {"type": "string", "minLength": 2}},
    }
    requests = [
        review_request(POSITIVE_REVIEW),
        review_request(NEGATIVE_REVIEW),
        review_request("My order had 3 mugs and 2 plates.", schema=lower_case),
        {
            "contents": [{"role": "user", "parts": [{"text": "Is this spam? WIN A FREE PRIZE NOW"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": json_schema},
        },
    ]
    uri = make_input(bq_client, dataset, requests)
    rows = output_rows(bq_client, run_job(job_client, project, uri, dataset))
    answers = [json.loads(answer_text(r)) for r in rows]
    jsonschema.validate(answers[0], openapi_to_jsonschema(REVIEW_SCHEMA))
    jsonschema.validate(answers[1], openapi_to_jsonschema(REVIEW_SCHEMA))
    jsonschema.validate(answers[2], openapi_to_jsonschema(lower_case))
    jsonschema.validate(answers[3], json_schema)
    assert list(answers[0]) == REVIEW_SCHEMA["propertyOrdering"]
    assert (answers[0]["sentiment"], answers[1]["sentiment"]) == ("positive", "negative")
    assert answers[0]["rating"] > answers[1]["rating"]
    assert "shipping" in answers[1]["topics"] and "quality" in answers[0]["topics"]


def test_typed_answers_repeat_what_the_posting_says_within_the_schema(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    """Offline answers to a typed schema look like answers (issue 21): numbers, enum values and short strings come
    from the posting, bounds from the schema or the instruction, a min/max pair in order; same request, same answer."""
    schema = {
        "type": "OBJECT",
        "properties": {
            "seniority": {"type": "STRING", "enum": ["junior", "mid", "senior"]},
            "salary_min": {"type": "INTEGER", "minimum": 0},
            "salary_max": {"type": "INTEGER", "minimum": 0},
            "currency": {"type": "STRING"},
            "city": {"type": "STRING"},
            "skills": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 1, "maxItems": 3},
            "fit": {"type": "INTEGER"},
        },
        "required": ["seniority", "salary_min", "salary_max", "currency", "city", "skills", "fit"],
    }
    postings = [
        "Senior data engineer in Berlin. Salary 70,000 - 90,000 EUR a year. Skills: Python, SQL, dbt, Airflow.",
        "Junior analyst in Leeds, £28k-£32k. Skills: Excel and SQL.",
        "Barista wanted.",
    ]

    def request(posting: str) -> dict[str, Any]:
        return {
            "systemInstruction": {"parts": [{"text": "Extract the fields. Give fit as a number from 1 to 10."}]},
            "contents": [{"role": "user", "parts": [{"text": posting}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseSchema": schema},
        }

    uri = make_input(bq_client, dataset, [request(p) for p in [*postings, postings[2]]])
    answers = [json.loads(answer_text(r)) for r in output_rows(bq_client, run_job(job_client, project, uri, dataset))]
    for answer in answers:
        jsonschema.validate(answer, openapi_to_jsonschema(schema))
        assert answer["salary_min"] <= answer["salary_max"] and 1 <= answer["fit"] <= 10
    berlin, leeds, barista, again = answers
    assert berlin["seniority"] == "senior" and leeds["seniority"] == "junior"
    assert [(a["salary_min"], a["salary_max"], a["currency"]) for a in (berlin, leeds)] == [
        (70000, 90000, "EUR"),
        (28000, 32000, "GBP"),
    ]
    assert (berlin["city"], leeds["city"]) == ("Berlin", "Leeds")
    assert berlin["skills"] == ["Python", "SQL", "dbt"] and leeds["skills"] == ["Excel", "SQL"]
    assert barista == again


def test_tiny_max_output_tokens_truncates_with_max_tokens(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    uri = make_input(bq_client, dataset, [review_request(NEGATIVE_REVIEW, max_tokens=5)])
    row = output_rows(bq_client, run_job(job_client, project, uri, dataset))[0]
    candidate = row["response"]["candidates"][0]
    assert row["status"] == ""
    assert candidate["finishReason"] == "MAX_TOKENS"
    assert row["response"]["usageMetadata"]["candidatesTokenCount"] <= 5
    assert len(answer_text(row)) <= 20
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer_text(row))


def test_thinking_budget_zero_has_no_thoughts(
    job_client: aiplatform_v1.JobServiceClient, bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    request = review_request(POSITIVE_REVIEW)
    request["generationConfig"]["thinkingConfig"] = {"thinkingBudget": 0}
    uri = make_input(bq_client, dataset, [request])
    usage = output_rows(bq_client, run_job(job_client, project, uri, dataset))[0]["response"]["usageMetadata"]
    assert "thoughtsTokenCount" not in usage
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]


def test_openai_responder_answers_through_a_chat_completions_server(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    fake = FakeChatServer()
    try:
        fake.replies = [(200, chat_answer('{"sentiment": "positive"}'))]
        _, client = emulator_factory(responder="openai", openai={"base_url": fake.base_url, "model": "qwen"})
        requests = [review_request(POSITIVE_REVIEW), review_request(NEGATIVE_REVIEW), {"contents": []}]
        uri = make_input(bq_client, dataset, requests)
        job = run_job(client, project, uri, dataset)
        rows = output_rows(bq_client, job)
    finally:
        fake.close()
    assert stats(job) == (2, 1, 0)
    assert len(fake.requests) == 2, "refused rows never reach the model"
    assert fake.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["sentiment"]["enum"] == [
        "positive",
        "negative",
        "neutral",
    ]
    assert json.loads(answer_text(rows[0])) == {"sentiment": "positive"}
    assert rows[0]["response"]["modelVersion"] == "qwen2.5-7b-instruct"
    assert rows[0]["response"]["usageMetadata"]["totalTokenCount"] == 42


# -- fault injection -----------------------------------------------------------------------------------------
def test_row_failure_rate_is_reproducible(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(row_failure_rate=0.3, row_failure_code=429, seed=7)
    total = 80
    uri = make_input(bq_client, dataset, [review_request(f"Review number {i}: fine.") for i in range(total)])
    first, second = (run_job(client, project, uri, dataset) for _ in range(2))
    assert first.state == State.JOB_STATE_SUCCEEDED
    successful, failed, _ = stats(first)
    assert successful + failed == total and 0.15 * total <= failed <= 0.45 * total
    failed_ids = [{r["id"] for r in output_rows(bq_client, job) if r["status"]} for job in (first, second)]
    assert failed_ids[0] == failed_ids[1], "the same rows fail on every run"
    sample = next(r for r in output_rows(bq_client, first) if r["status"])
    assert sample["status"].startswith('Too Many Requests: {"error": {"code": 429,')
    assert sample["response"] is None


def test_fail_jobs_by_display_name_glob(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    _, client = emulator_factory(fail_jobs="doomed-*")
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    doomed = run_job(client, project, uri, dataset, display_name="doomed-1")
    fine = run_job(client, project, uri, dataset, display_name="fine-1")
    assert doomed.state == State.JOB_STATE_FAILED and doomed.error.code == 13
    assert fine.state == State.JOB_STATE_SUCCEEDED


def test_api_errors_are_raised_as_client_exceptions(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    emulator, client = emulator_factory()
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    job = run_job(client, project, uri, dataset)

    def configure(**patch: Any) -> None:
        status, body = rest(emulator.base_url, "POST", "/emulator/config", patch)
        assert status == 200, body

    configure(api_error_rate=1.0, api_error_codes=[429], api_error_methods=["get"])
    with pytest.raises(exceptions.TooManyRequests):
        client.get_batch_prediction_job(name=job.name)
    assert list(list_jobs(client, project)), "list is not faulted"
    configure(api_error_codes=[503])
    with pytest.raises(exceptions.ServiceUnavailable):
        client.get_batch_prediction_job(name=job.name)
    configure(api_error_rate=0.5, api_error_codes=[429, 503])
    outcomes = []
    for _ in range(4):
        try:
            client.get_batch_prediction_job(name=job.name)
            outcomes.append("ok")
        except exceptions.GoogleAPICallError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == ["ok", "TooManyRequests", "ok", "ServiceUnavailable"]
    configure(api_error_rate=0.0)
    assert client.get_batch_prediction_job(name=job.name).state == State.JOB_STATE_SUCCEEDED


def test_api_error_after_commit_still_creates_the_job(
    emulator_factory: Callable[..., Any], bq_client: bigquery.Client, dataset: str, project: str
) -> None:
    emulator, client = emulator_factory()
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    output = f"bq://{project}.{dataset}"
    for after_commit, label in ((False, "lost"), (True, "kept")):
        emulator.update_config(
            {"api_error_rate": 1.0, "api_error_codes": [503], "api_error_methods": ["create"]}
            | {"api_error_after_commit": after_commit}
        )
        with pytest.raises(exceptions.ServiceUnavailable):
            create_job(client, project, uri, output, labels={"attempt": label})
    jobs = list_jobs(client, project, filter="labels.attempt:*")
    assert [j.labels["attempt"] for j in jobs] == ["kept"], "a create that errors after commit made its job"


def test_admin_config_and_reset_endpoints(emulator_factory: Callable[..., Any], project: str) -> None:
    emulator, client = emulator_factory(queue_delay_seconds=0.3)
    status, body = rest(emulator.base_url, "GET", "/emulator/config")
    assert status == 200 and body["queue_delay_seconds"] == 0.3 and body["responder"] == "deterministic"
    status, body = rest(emulator.base_url, "POST", "/emulator/config", {"row_failure_rate": 0.25})
    assert status == 200 and body["row_failure_rate"] == 0.25
    assert emulator.config.row_failure_rate == 0.25
    status, body = rest(emulator.base_url, "POST", "/emulator/config", {"row_failure_rat": 0.25})
    assert status == 400 and "unknown emulator config keys" in body["error"]["message"]
    status, body = rest(emulator.base_url, "POST", "/emulator/config", {"api_error_codes": [418]})
    assert status == 400
    assert rest(emulator.base_url, "GET", "/healthz") == (200, {"status": "ok"})
    create_job(client, project, f"bq://{project}.no_such_dataset.t", f"bq://{project}.no_such_dataset")
    assert len(list_jobs(client, project)) == 1
    assert rest(emulator.base_url, "POST", "/emulator/reset") == (200, {})
    assert list_jobs(client, project) == []


# -- persistence ---------------------------------------------------------------------------------------------
def test_restarted_emulator_knows_its_jobs(
    emulator_factory: Callable[..., Any],
    bq_client: bigquery.Client,
    dataset: str,
    project: str,
    tmp_path: Path,
) -> None:
    state = tmp_path / "vertex-state"
    first, client = emulator_factory(state_dir=state)
    uri = make_input(bq_client, dataset, [review_request(POSITIVE_REVIEW)])
    output = f"bq://{project}.{dataset}"
    finished = run_job(client, project, uri, dataset, display_name="finished")
    first.update_config({"run_delay_seconds": 30})
    running = create_job(client, project, uri, output, display_name="running")
    while client.get_batch_prediction_job(name=running.name).state != State.JOB_STATE_RUNNING:
        time.sleep(0.05)
    first.update_config({"queue_delay_seconds": 30})
    pending = create_job(client, project, uri, output, display_name="pending")
    first.stop()

    _, client = emulator_factory(state_dir=state)
    again = client.get_batch_prediction_job(name=finished.name)
    assert again == finished
    failed = client.get_batch_prediction_job(name=running.name)
    assert failed.state == State.JOB_STATE_FAILED and "restarted" in failed.error.message
    resumed = wait_done(client, pending.name)
    assert resumed.state == State.JOB_STATE_SUCCEEDED
    assert {j.display_name for j in list_jobs(client, project)} == {
        "finished",
        "running",
        "pending",
    }
