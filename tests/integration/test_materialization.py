"""The gemini_batch materialization next to dbt-bigquery's own, through dbt-bigquery against the local stack.

One throwaway copy of the demo project serves the module (seeded once); each test adds its own models and selects
only them. bqemulator ignores some DDL that real BigQuery honours (OPTIONS labels/expiration, CLUSTER BY, GRANT is a
syntax error there), so where the engine cannot show the effect the test reads the statements dbt executed from
logs/dbt.log, the SQL BigQuery would receive.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator

import pytest
from google.cloud import bigquery

from gemini_batch.local.stack import StackInfo
from tests.integration.demo_project import CommandResult, DemoProject

pytestmark = pytest.mark.integration

GEMINI_MODEL = "gemini-2.5-flash"
ANSWER_COLUMNS = [
    "response",
    "status",
    "processed_time",
    "job_name",
    "attempts",
    "updated_at",
    "previous_response",
    "previous_answered_at",
    "output_state",
    "output_error",
    "given_up",
]


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory, local_stack: StackInfo, bq_client: bigquery.Client
) -> Iterator[DemoProject]:
    env = {**os.environ, **local_stack.env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    demo = DemoProject.copy(
        tmp_path_factory.mktemp("materialization") / "demo", env, bq_client, local_stack.vertex_endpoint
    )
    demo.dbt("seed")
    demo.dbt("run", "--select", "stg_shop__reviews")
    try:
        yield demo
    finally:
        bq_client.delete_dataset(demo.dataset, delete_contents=True, not_found_ok=True)


def run_logged(project: DemoProject, *args: str, ok: bool = True) -> tuple[CommandResult, str]:
    """dbt with the given arguments, and the debug log of that invocation alone (every statement dbt executed)."""
    log = project.root / "logs" / "dbt.log"
    log.unlink(missing_ok=True)
    result = project.dbt(*args, ok=ok)
    return result, log.read_text()


def batch_model(name: str, select: str, config: str = "") -> str:
    return (
        f"{{{{ config(materialized='gemini_batch', gemini_model='{GEMINI_MODEL}'{config}) }}}}\n-- {name}\n{select}\n"
    )


def request_hash(request: str) -> str:
    return hashlib.sha256(f"{GEMINI_MODEL}\n{request}".encode()).hexdigest()


def rendered(project: DemoProject, name: str) -> str:
    """A relation of the project's dataset as dbt-bigquery renders it in SQL."""
    return f"`{project.bq.project}`.`{project.dataset}`.`{name}`"


def table_names(project: DemoProject) -> set[str]:
    return {t.table_id for t in project.bq.list_tables(project.dataset)}


def test_a_model_selecting_only_request_builds_with_its_sql_run_once(project: DemoProject) -> None:
    project.add_model(
        "mat/only_request.sql",
        batch_model(
            "only_request",
            "select {{ gemini_batch.request(prompt='review_text_clean') }} as request\n"
            "from {{ ref('stg_shop__reviews') }}",
        ),
    )
    _, log = run_logged(project, "run", "--select", "only_request")

    columns = [f.name for f in project.bq.get_table(project.table("only_request__requests")).schema]
    assert columns == [
        "request", "request_hash", "gemini_batch_response_schema", "gemini_batch_state", "gemini_batch_first",
        "gemini_batch_previous_key", "gemini_batch_previous_hashes",
    ]  # fmt: skip
    view_columns = [f.name for f in project.bq.get_table(project.table("only_request")).schema]
    assert view_columns == ["request", "request_hash", *ANSWER_COLUMNS]
    reviews = project.scalar("select count(*) from `{ds}.stg_shop__reviews`")
    assert project.scalar("select count(*) from `{ds}.only_request`") == reviews

    # BigQuery rejects a star that EXCEPT empties; bqemulator does not, so the statement's shape is the proof.
    ctas = re.findall(
        r"create table [^\n]*only_request__gemini_batch_table_\w+`.*?\n\s*from [^\n]*only_request__gemini_batch_view_",
        log,
        re.S,
    )
    assert len(ctas) == 1, log[-3000:]
    assert "replace (staged.request as request)" in ctas[0]
    assert not re.search(r"except \(\s*request\b", ctas[0].lower())
    # The model's SQL lives in the staging view; exactly one statement reads that view (the CREATE TABLE AS).
    readers = re.findall(r"from [^\n]*only_request__gemini_batch_view_\w+`", log)
    assert len(readers) == 1, readers
    assert not {t for t in table_names(project) if "__gemini_batch_" in t}


def test_staging_is_unique_per_invocation_and_dropped_when_a_check_fails(project: DemoProject) -> None:
    project.add_model(
        "mat/failing_check.sql",
        batch_model("failing_check", "select 1 as k, '{\"contents\": []}' as request"),
    )
    result, log = run_logged(project, "run", "--select", "failing_check", ok=False)
    assert result.returncode != 0
    assert "k=1: `contents` is empty or not a list" in result.output
    invocation = json.loads((project.root / "target" / "run_results.json").read_text())["metadata"]["invocation_id"]
    staging = f"failing_check__gemini_batch_table_{invocation.replace('-', '')[:12]}"
    assert f"create table {rendered(project, staging)}" in log
    assert f"drop table if exists {rendered(project, staging)}" in log
    assert not {t for t in table_names(project) if "__gemini_batch_" in t}
    assert "failing_check__requests" not in table_names(project)


def test_only_requests_that_would_be_sent_are_checked(project: DemoProject) -> None:
    bad = '{"contents": [{"role": "system", "parts": [{"text": "x"}]}]}'
    good = '{"contents": [{"parts": [{"text": "x"}]}]}'
    project.add_model(
        "mat/answered_once.sql",
        batch_model(
            "answered_once",
            "select 1 as k, {% if var('send_bad', false) %}'" + bad + "'{% else %}'" + good + "'{% endif %} as request",
        ),
    )
    project.dbt("run", "--select", "answered_once")
    # A request answered successfully is never sent again, so it is not checked again either.
    project.bq.query(
        f"insert into `{project.table('answered_once__responses')}` (request_hash, request, response, status, attempts)"
        f" values ('{request_hash(bad)}', '{bad}', json '{{}}', '', 1)"
    ).result()
    project.dbt("run", "--select", "answered_once", "--vars", "{send_bad: true}")
    assert project.scalar("select request_hash from `{ds}.answered_once__requests`") == request_hash(bad)

    # The same request once its answer is a failure (a retry would send it): checked, and refused.
    project.bq.query(
        f"update `{project.table('answered_once__responses')}` set status = 'Bad Request' where true"
    ).result()
    result = project.dbt("run", "--select", "answered_once", "--vars", "{send_bad: true}", ok=False)
    assert "k=1: a `contents` entry has a role other than user or model" in result.output


def test_row_checks_agree_with_vertex(project: DemoProject) -> None:
    rows = {
        # accepted by Vertex: role absent or blank, numbers without an exact double, gs:// and YouTube files
        1: '{"contents": [{"parts": [{"text": "no role"}]}]}',
        2: '{"contents": [{"role": "", "parts": [{"text": "blank role"}]}]}',
        3: '{"contents": [{"role": "user", "parts": [{"text": "x"}]}], '
        '"generationConfig": {"temperature": 0.1000000000000000055511151231257827}}',
        4: '{"contents": [{"role": "user", "parts": ['
        '{"fileData": {"fileUri": "gs://b/a.png", "mimeType": "image/png"}},'
        ' {"file_data": {"file_uri": "https://www.youtube.com/watch?v=abc", "mime_type": "video/mp4"}}]}]}',
        # refused by Vertex row by row
        11: '{"contents": [{"role": "user", "parts": [{"text": "x"}]}], '
        '"cached_content": "projects/p/cachedContents/1"}',
        12: '{"contents": [{"role": "user", "parts": [{"text": ""}]}]}',
        13: '{"contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "https://example.com/a.png", '
        '"mimeType": "image/png"}}]}]}',
        14: '{"contents": [{"role": "user", "parts": [{"text": "x"}]}], "systemInstruction": "be brief"}',
    }
    select = "\nunion all\n".join(f"select {k} as k, '{v}' as request" for k, v in rows.items())
    project.add_model("mat/vertex_rules.sql", batch_model("vertex_rules", select))
    result, log = run_logged(project, "run", "--select", "vertex_rules", ok=False)
    assert "4 row(s) have a request that Vertex would reject" in result.output, result.output[-3000:]
    assert "k=11: `cachedContent` is not supported by batch prediction" in result.output
    assert "k=12: a text part is empty" in result.output
    assert "k=13: a fileData URI is neither gs:// nor a public YouTube URL" in result.output
    assert "k=14: `systemInstruction` is not a Content object" in result.output
    # bqemulator parses 0.1000000000000000055511151231257827 in any mode; BigQuery's default (exact) would not.
    assert "safe.parse_json(request, wide_number_mode => 'round')" in log

    kept = "\nunion all\n".join(f"select {k} as k, '{v}' as request" for k, v in rows.items() if k < 10)
    project.add_model("mat/vertex_rules.sql", batch_model("vertex_rules", kept))
    project.dbt("run", "--select", "vertex_rules")
    assert project.scalar("select count(*) from `{ds}.vertex_rules__requests`") == 4


def test_a_request_larger_than_gemini_accepts_is_refused_naming_the_row(project: DemoProject) -> None:
    # 20,000,100 bytes of prompt: over Gemini's 20 MB per request (read as 20,000,000 bytes); the 21 MB request
    # issue 16 saw was built and submitted, and would have failed at Vertex after the job was paid for.
    big = 'concat(\'{"contents": [{"role": "user", "parts": [{"text": "\', repeat(\'a\', 20000100), \'"}]}]}\')'
    select = (
        'select 1 as k, \'{"contents": [{"role": "user", "parts": [{"text": "small"}]}]}\' as request\n'
        f"union all\nselect 2 as k, {big} as request"
    )
    project.add_model("mat/too_large.sql", batch_model("too_large", select))
    result = project.dbt("run", "--select", "too_large", ok=False)
    refused = "1 row(s) have a request that Vertex would reject; nothing was submitted"
    assert refused in result.output, result.output[-3000:]
    assert "k=2: request is 20000157 bytes, more than the 20000000 bytes (20 MB) Gemini" in result.output
    assert "Cloud Storage" in result.output
    assert not {t for t in table_names(project) if t.startswith("too_large")}


def test_an_array_request_column_is_refused_by_name(project: DemoProject) -> None:
    project.add_model(
        "mat/array_request.sql",
        batch_model("array_request", "select 1 as k, ['{\"contents\": []}'] as request"),
    )
    result = project.dbt("run", "--select", "array_request", ok=False)
    assert "array_request: column `request` is ARRAY<STRING>" in result.output, result.output[-3000:]
    assert not {t for t in table_names(project) if t.startswith("array_request")}


def test_a_table_with_the_model_name_is_replaced_only_under_full_refresh(project: DemoProject) -> None:
    project.add_model(
        "mat/was_a_table.sql",
        batch_model("was_a_table", 'select 1 as k, \'{"contents": [{"parts": [{"text": "x"}]}]}\' as request'),
    )
    project.bq.query(f"create table `{project.table('was_a_table')}` as select 42 as kept").result()

    result = project.dbt("run", "--select", "was_a_table", ok=False)
    assert "Trying to create view" in result.output and "--full-refresh" in result.output, result.output[-3000:]
    assert project.bq.get_table(project.table("was_a_table")).table_type == "TABLE"
    assert project.scalar("select kept from `{ds}.was_a_table`") == 42
    assert "was_a_table__requests" not in table_names(project)

    project.dbt("run", "--select", "was_a_table", "--full-refresh")
    assert project.bq.get_table(project.table("was_a_table")).table_type == "VIEW"
    assert project.scalar("select k from `{ds}.was_a_table`") == 1


CONTRACT_YML = """
version: 2
models:
  - name: {name}
    config:
      contract: {{enforced: true}}
    columns:
      - name: k
        data_type: {k_type}
      - name: request
        data_type: string
      - name: request_hash
        data_type: string
      - name: response
        data_type: json
      - name: status
        data_type: string
      - name: processed_time
        data_type: timestamp
      - name: job_name
        data_type: string
      - name: attempts
        data_type: int64
      - name: updated_at
        data_type: timestamp
      - name: previous_response
        data_type: json
      - name: previous_answered_at
        data_type: timestamp
      - name: output_state
        data_type: string
      - name: output_error
        data_type: string
      - name: given_up
        data_type: boolean
"""


def test_an_enforced_contract_checks_the_model_view_only(project: DemoProject) -> None:
    select = 'select 1 as k, \'{"contents": [{"parts": [{"text": "x"}]}]}\' as request'
    project.add_model("mat/contracted.sql", batch_model("contracted", select))
    project.add_model("mat/contracted.yml", CONTRACT_YML.format(name="contracted", k_type="int64"))
    project.add_model("mat/contract_broken.sql", batch_model("contract_broken", select))
    project.add_model("mat/contract_broken.yml", CONTRACT_YML.format(name="contract_broken", k_type="string"))

    project.dbt("run", "--select", "contracted")
    assert project.scalar("select count(*) from `{ds}.contracted`") == 1

    result = project.dbt("run", "--select", "contract_broken", ok=False)
    assert "contract" in result.output.lower() and "k" in result.output, result.output[-3000:]


# Records the grant statements instead of running them: bqemulator has no GRANT/REVOKE and no
# INFORMATION_SCHEMA.OBJECT_PRIVILEGES. dbt resolves the `dbt` namespace's dispatch in the root project first.
GRANT_RECORDER = """
{% macro bigquery__get_show_grant_sql(relation) %}
    select '' as privilege_type, '' as grantee from unnest([1]) where false
{% endmacro %}
{% macro bigquery__get_grant_sql(relation, privilege, grantees) %}
    {% do log('recorded grant ' ~ privilege ~ ' on ' ~ relation.type ~ ' ' ~ relation.identifier
              ~ ' to ' ~ grantees | join(','), info=true) %}
    select 1
{% endmacro %}
"""

GOVERNED_YML = """
version: 2
models:
  - name: governed
    description: Reviews to classify
    config:
      persist_docs: {relation: true, columns: true}
      labels: {team: ml}
      kms_key_name: projects/p/locations/us-central1/keyRings/r/cryptoKeys/k
      grants: {roles/bigquery.dataViewer: ['user:reader@example.com']}
      grant_access_to: [{project: local-project, dataset: OTHER}]
    columns:
      - name: k
        description: the review key
      - name: request
        description: the prompt sent to Gemini
      - name: status
        description: answer status
"""


def test_grants_access_options_and_docs_reach_the_view_and_both_tables(
    project: DemoProject, bq_client: bigquery.Client
) -> None:
    other = f"{project.dataset}_readers"
    dataset = bigquery.Dataset(f"{bq_client.project}.{other}")
    dataset.location = "us-central1"
    bq_client.create_dataset(dataset)
    try:
        (project.root / "macros" / "record_grants.sql").write_text(GRANT_RECORDER)
        project.add_model(
            "mat/governed.sql",
            batch_model("governed", 'select 1 as k, \'{"contents": [{"parts": [{"text": "x"}]}]}\' as request'),
        )
        project.add_model("mat/governed.yml", GOVERNED_YML.replace("OTHER", other))
        result, log = run_logged(project, "run", "--select", "governed")
    finally:
        (project.root / "macros" / "record_grants.sql").unlink(missing_ok=True)

    for relation in ["view governed", "table governed__requests", "table governed__responses"]:
        assert f"recorded grant roles/bigquery.dataViewer on {relation} to user:reader@example.com" in result.output

    authorized = [e.entity_id for e in bq_client.get_dataset(other).access_entries if e.entity_type == "view"]
    assert {"projectId": bq_client.project, "datasetId": project.dataset, "tableId": "governed"} in authorized
    bq_client.delete_dataset(other, delete_contents=True, not_found_ok=True)

    for name in ["governed", "governed__requests", "governed__responses"]:
        table = project.bq.get_table(project.table(name))
        assert table.description == "Reviews to classify", name
        docs = {f.name: f.description for f in table.schema}
        assert docs.get("request", "the prompt sent to Gemini") == "the prompt sent to Gemini", name
    assert {f.name: f.description for f in project.bq.get_table(project.table("governed__requests")).schema}[
        "k"
    ] == "the review key"
    assert {f.name: f.description for f in project.bq.get_table(project.table("governed__responses")).schema}[
        "status"
    ] == "answer status"

    # Each table gets the docs of its own columns, without a warning about the view's other columns.
    assert "not present in the database" not in result.output

    # Options bqemulator does not keep: read from the statements BigQuery would receive.
    for table in ["governed__requests", "governed__responses"]:
        alter = re.search(rf"alter table [^\n]*`{table}` set\s+OPTIONS\((.*?)\)\s*$", log, re.S | re.M)
        assert alter, f"no options set on {table}"
        options = alter.group(1)
        assert "labels=[('team', 'ml')]" in options
        assert "kms_key_name='projects/p/locations/us-central1/keyRings/r/cryptoKeys/k'" in options
        assert "expiration_timestamp=NULL" in options
    staging = r"create table [^\n]*`governed__gemini_batch_table_\w+`\s+cluster by gemini_batch_state, request_hash"
    assert re.search(staging, log)
    assert re.search(
        r"create table if not exists [^\n]*`governed__responses` \(.*?\)\s+cluster by request_hash", log, re.S
    )


def test_responses_never_keep_an_expiration(project: DemoProject) -> None:
    """m__responses (the paid answers) must not inherit a dataset's default table expiration. bqemulator keeps no
    expiration at all, so the proof is the statement: the options are set with expiration NULL on every run, also
    when the table already exists, and whatever hours_to_expiration says (that applies to m__requests only)."""
    select = 'select 1 as k, \'{"contents": [{"parts": [{"text": "x"}]}]}\' as request'
    project.add_model("mat/kept_answers.sql", batch_model("kept_answers", select, ", hours_to_expiration=6"))
    project.dbt("run", "--select", "kept_answers")
    _, log = run_logged(project, "run", "--select", "kept_answers")
    responses = re.search(r"alter table [^\n]*`kept_answers__responses` set\s+OPTIONS\((.*?)\)\s*$", log, re.S | re.M)
    requests = re.search(r"alter table [^\n]*`kept_answers__requests` set\s+OPTIONS\((.*?)\)\s*$", log, re.S | re.M)
    assert responses and requests, log[-3000:]
    assert "expiration_timestamp=NULL" in responses.group(1)
    assert "INTERVAL 6 hour" in requests.group(1)


def test_docs_generate_works_on_the_local_stack(project: DemoProject) -> None:
    """dbt-bigquery's catalog query (`__TABLES__` joined to INFORMATION_SCHEMA.COLUMNS and COLUMN_FIELD_PATHS) runs
    on the local stack, and catalog.json holds every model the demo built with the columns and types BigQuery has."""
    project.dbt("run", "--select", "+tag:demo", "--exclude", "tag:macro_tests")
    target = project.root / "target"
    built = {
        r["unique_id"]
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("model.") and r["status"] == "success"
    }
    assert "model.gemini_batch_integration_tests.review_insights" in built
    project.dbt("docs", "generate")
    catalog = json.loads((target / "catalog.json").read_text())
    assert not catalog.get("errors"), catalog.get("errors")
    assert built <= set(catalog["nodes"]), built - set(catalog["nodes"])

    # Every built model: its columns, in order, with the types bqemulator's own INFORMATION_SCHEMA.COLUMNS reports
    # (COLUMN_FIELD_PATHS adds one entry per nested STRUCT field; top-level ones must match COLUMNS exactly).
    reported: dict[str, list[tuple[str, str]]] = {}
    for row in project.rows(
        "select table_name, column_name, data_type from `{ds}.INFORMATION_SCHEMA.COLUMNS` order by ordinal_position"
    ):
        reported.setdefault(row["table_name"], []).append((row["column_name"], row["data_type"]))
    for unique_id in built:
        node = catalog["nodes"][unique_id]
        columns = sorted(node["columns"].values(), key=lambda c: c["index"])
        top_level = [(c["name"], c["type"]) for c in columns if "." not in c["name"]]
        assert top_level == reported[node["metadata"]["name"]], unique_id
        assert node["metadata"]["type"] in {"table", "view"}, unique_id

    insights = catalog["nodes"]["model.gemini_batch_integration_tests.review_insights"]
    types = {name.lower(): column["type"] for name, column in insights["columns"].items()}
    assert types["request"] == "STRING" and types["request_hash"] == "STRING" and types["status"] == "STRING"
    assert types["processed_time"] == "TIMESTAMP" and types["attempts"] == "INT64"
    assert insights["metadata"]["type"] == "view"  # m is a view over m__requests and m__responses

    # The answer tables are no dbt nodes, so dbt leaves them out of catalog.json; the view it reads lists them.
    tables = {r["table_id"]: r for r in project.rows("select * from `{ds}.__TABLES__`")}
    for name in ("review_insights__requests", "review_insights__responses"):
        assert tables[name]["type"] == 1 and tables[name]["dataset_id"] == project.dataset
        assert tables[name]["row_count"] == project.scalar(f"select count(*) from `{{ds}}.{name}`"), name
    assert tables["review_insights"]["type"] == 2
    assert not any(name.endswith(("__requests", "__responses")) for name in catalog["nodes"])
