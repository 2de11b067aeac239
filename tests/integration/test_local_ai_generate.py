"""AI.GENERATE on the local BigQuery, through the real google-cloud-bigquery client: Google's signature and output
columns, the Vertex emulator's answers (the same responder, token counts and row faults as a batch job), and
BigQuery's kind of refusal for a malformed call."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from google.api_core import exceptions
from google.cloud import bigquery

from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.jobs import JobRunner
from gemini_batch.emulator.responders import make_responder
from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import set_emulator_config

pytestmark = pytest.mark.integration


@pytest.fixture()
def faults(local_stack: StackInfo) -> Iterator[None]:
    yield
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 0.0})


def query(bq: bigquery.Client, sql: str) -> list[dict[str, object]]:
    return [dict(row) for row in bq.query(sql).result()]


def test_text_answers_match_the_vertex_emulator(bq_client: bigquery.Client) -> None:
    rows = query(
        bq_client,
        """
        select prompt, AI.GENERATE(prompt, endpoint => 'gemini-2.5-flash',
            model_params => JSON '{"generationConfig": {"temperature": 0, "maxOutputTokens": 64}}') as answer
        from unnest(['The parcel arrived broken.', 'Great battery life.']) as prompt
        order by prompt
        """,
    )
    config = EmulatorConfig()
    for row in rows:
        answer = row["answer"]
        assert isinstance(answer, dict) and set(answer) == {"result", "full_response", "status"}
        assert answer["status"] == ""
        request = {
            "contents": [{"role": "user", "parts": [{"text": row["prompt"]}]}],
            "generationConfig": {"temperature": 0, "maxOutputTokens": 64},
        }
        expected = JobRunner._answer_row(request, config, "gemini-2.5-flash", make_responder(config))["response"]
        full = answer["full_response"]
        full = json.loads(full) if isinstance(full, str) else full
        assert full == expected  # same answer, same usageMetadata token counts
        assert answer["result"] == expected["candidates"][0]["content"]["parts"][0]["text"]


def test_output_schema_gives_typed_fields_and_a_struct_prompt_is_sent_in_parts(bq_client: bigquery.Client) -> None:
    [row] = query(
        bq_client,
        """
        select AI.GENERATE(('Rate this review: ', 'Great battery life.'),
            endpoint => 'https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash',
            output_schema => 'sentiment STRING, stars INT64, topics ARRAY<STRING>, useful BOOL') as g
        """,
    )
    g = row["g"]
    assert set(g) == {"sentiment", "stars", "topics", "useful", "full_response", "status"}
    assert g["status"] == "" and isinstance(g["sentiment"], str) and isinstance(g["stars"], int)
    assert isinstance(g["topics"], list) and isinstance(g["useful"], bool)


def test_row_faults_of_the_emulator_config_apply(
    bq_client: bigquery.Client, local_stack: StackInfo, faults: None
) -> None:
    set_emulator_config(local_stack.vertex_endpoint, {"row_failure_rate": 1.0, "row_failure_code": 429})
    [row] = query(bq_client, "select AI.GENERATE('hello').status as status, AI.GENERATE('hello').result as result")
    assert "429" in str(row["status"]) or "Resource exhausted" in str(row["status"])
    assert row["result"] is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("AI.GENERATE('x', endpoint => 'gemini-9-ultra')", "Invalid endpoint 'gemini-9-ultra'"),
        ("AI.GENERATE('x', model_params => JSON '{\"generationConfig\": ')", "Invalid JSON literal"),
        ("AI.GENERATE('x', model_params => '{}')", "model_params must be a JSON literal"),
        ("AI.GENERATE('x', model_params => JSON '{\"contents\": []}')", "cannot set contents"),
        ("AI.GENERATE('x', model_params => JSON '{\"temperature\": 0}')", "Invalid field 'temperature'"),
        ("AI.GENERATE('x', output_schema => 'sentiment')", "Invalid output_schema 'sentiment'"),
        ("AI.GENERATE('x', output_schema => 'a GEOGRAPHY')", "unsupported type GEOGRAPHY"),
        ("AI.GENERATE('x', temperature => 0.5)", "No matching signature for function AI.GENERATE"),
    ],
)
def test_malformed_calls_are_refused_as_bigquery_refuses_them(
    bq_client: bigquery.Client, call: str, message: str
) -> None:
    with pytest.raises(exceptions.BadRequest) as caught:
        query(bq_client, f"select {call} as g")
    assert message in str(caught.value)
    assert "invalidQuery" in str(caught.value.errors) or caught.value.code == 400
