"""The package's request and parse macros, proved by the dbt macro tests in integration_tests (`tag:macro_tests`).

dbt runs as a subprocess in a throwaway copy of integration_tests with its own BigQuery dataset on the session's local
stack. Success alone is not enough: run_results.json must show every expected data test ran and passed, so a test
that stopped being selected (a lost tag, a renamed file) fails here instead of passing quietly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import DemoProject

pytestmark = pytest.mark.integration

SEEDS = {
    "macro_tests__parse_responses",
    "macro_tests__parse_expected",
    "macro_tests__request_texts",
    "macro_tests__request_inputs",
    "macro_tests__request_expected",
    "macro_tests__file_uris",
    "macro_tests__output_responses",
    "macro_tests__output_expected",
}
MODELS = {
    "test_parse_macros",
    "test_request_text_round_trip",
    "test_request_options",
    "test_file_part_mime_types",
    "test_output_schema",
}
SINGULAR_TESTS = {
    "assert_parse_macros_match_expected",
    "assert_request_texts_round_trip",
    "assert_request_options_match_expected",
    "assert_file_part_mime_types_match_expected",
    "assert_output_schema_matches_expected",
}
# The singular tests above plus the generic tests in the macro_tests yml files (16 on seeds, 15 on models).
DATA_TEST_COUNT = 36


@pytest.fixture()
def project(
    tmp_path: Path, stack_env: dict[str, str], bq_client: bigquery.Client, local_stack: StackInfo
) -> Iterator[DemoProject]:
    project = DemoProject.copy(tmp_path / "integration_tests", stack_env, bq_client, local_stack.vertex_endpoint)
    project.env["GEMINI_BATCH_DATASET"] = project.dataset = f"macro_tests_{project.dataset.removeprefix('demo_')}"
    try:
        yield project
    finally:
        bq_client.delete_dataset(project.dataset, delete_contents=True, not_found_ok=True)


def _results(project: DemoProject) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = json.loads((project.root / "target" / "run_results.json").read_text())["results"]
    return results


def _names(results: list[dict[str, Any]], resource_type: str) -> dict[str, str]:
    """{node name: status} of the results of one resource type (unique ids look like `test.<project>.<name>...`)."""
    return {
        r["unique_id"].split(".")[2]: r["status"] for r in results if r["unique_id"].startswith(f"{resource_type}.")
    }


def test_macro_tests_build_and_every_data_test_passes(project: DemoProject) -> None:
    project.dbt("seed", "--select", "tag:macro_tests")
    seeds = _names(_results(project), "seed")
    assert seeds == dict.fromkeys(SEEDS, "success")

    build = project.dbt("build", "--select", "tag:macro_tests", ok=False)
    results = _results(project)
    failing = {r["unique_id"]: r.get("message") for r in results if r["status"] not in ("success", "pass")}
    assert build.returncode == 0 and not failing, f"dbt build failed: {failing}\n{build.output[-4000:]}"

    assert _names(results, "model") == dict.fromkeys(MODELS, "success")
    tests = [r for r in results if r["unique_id"].startswith("test.")]
    assert len(tests) == DATA_TEST_COUNT, sorted(r["unique_id"] for r in tests)
    assert all(r["status"] == "pass" and r["failures"] == 0 for r in tests)
    assert set(_names(results, "test")) >= SINGULAR_TESTS


# Arguments the macros must reject while compiling, with a message naming the problem, rather than build bad SQL.
BAD_CALLS = {
    "gemini_batch.response_json_value('$.score', 'money')": "unknown type 'money'",
    "gemini_batch.response_json_value('$.x', 'ARRAY<ARRAY<INT64>>')": "ARRAY<ARRAY<...>> is not a BigQuery type",
    "gemini_batch.request('p', output_schema='a STRING OPTIONS(colour=1)')": "unsupported option colour=1",
    "gemini_batch.request('p', output_schema='a JSON')": "JSON has no responseSchema counterpart",
    "gemini_batch.request('p', output_schema='a STRUCT<b INT64')": "expected '>' but found 'the end'",
    "gemini_batch.request('p', output_schema={'a': {'type': 'STRING', 'enums': []}})": "unknown key 'enums'",
    "gemini_batch.request('p', output_schema='a INT64 OPTIONS(enum=[\"x\"])')": "enum is only supported on STRING",
    "gemini_batch.response_json_value('score')": "json_path must be a JSONPath starting with $",
    "gemini_batch.token_count('output')": "kind must be one of",
    "gemini_batch.request('p', labels={'Bad Key': 'x'})": "label key 'Bad Key'",
    "gemini_batch.request('p', parts=[1])": "each item of `parts`",
    "gemini_batch.request('p', generation_config={'top_p': 1, 'topP': 1})": "is given twice",
    "gemini_batch.request('p', response_schema={'type': 'STRING'}, generation_config={'response_schema': {}})": (
        "either as `response_schema` or inside `generation_config`"
    ),
}


# `dbt compile --inline` of each call, through dbtRunner in one Python process: a fresh dbt process per call spends
# most of its time starting up and parsing the project; here dbt starts once and each further compile reads the
# partial parse. Run by DemoProject._run, which appends `--profiles-dir <project>` (the last argument). Prints
# RESULTS_MARK + {call: {ok, output}} (output: every message dbt fired for that call).
RESULTS_MARK = "gemini-batch-compile-results: "
INLINE_COMPILES = f"""
import json, sys
from dbt.cli.main import dbtRunner
results = {{}}
for call in json.loads(sys.argv[1]):
    lines = []
    runner = dbtRunner(callbacks=[lambda event, lines=lines: lines.append(event.info.msg)])
    inline = "select {{{{ " + call + " }}}} as x"
    result = runner.invoke(["compile", "--inline", inline, "--profiles-dir", sys.argv[-1]])
    results[call] = {{"ok": bool(result.success), "output": "\\n".join(lines) + "\\n" + str(result.exception or "")}}
print({RESULTS_MARK!r} + json.dumps(results))
"""


def compile_inline(project: DemoProject, calls: list[str]) -> dict[str, dict[str, Any]]:
    result = project._run("python", "-c", INLINE_COMPILES, json.dumps(calls))
    assert result.returncode == 0, result.output[-4000:]
    (line,) = [line for line in result.output.splitlines() if line.startswith(RESULTS_MARK)]
    results: dict[str, dict[str, Any]] = json.loads(line[len(RESULTS_MARK) :])
    return results


def test_macros_reject_bad_arguments_at_compile_time(project: DemoProject) -> None:
    unknown_key = "gemini_batch.request('p', generation_config={'temprature': 0})"
    results = compile_inline(project, [*BAD_CALLS, unknown_key])
    accepted = {
        call: results[call]["output"][-1500:]
        for call, message in BAD_CALLS.items()
        if results[call]["ok"] or message not in results[call]["output"]
    }
    assert not accepted, accepted

    # An unknown generation_config key only warns: the API grows fields faster than the package's list.
    assert results[unknown_key]["ok"], results[unknown_key]["output"][-1500:]
    assert "generation_config key 'temprature' is not a known GenerationConfig field" in results[unknown_key]["output"]
