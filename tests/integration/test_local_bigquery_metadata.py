"""The local BigQuery's table metadata follows what SQL did to the table, as BigQuery's does (bqemulator alone kept
the schema of before an ALTER TABLE ADD/DROP COLUMN, and ran a view to learn its schema), and a dataset made by SQL
lands in the query job's location, as on BigQuery."""

from __future__ import annotations

import uuid

import pytest
from google.api_core.exceptions import BadRequest
from google.cloud import bigquery

from gemini_batch.local.clients import local_bigquery_client
from gemini_batch.local.stack import StackInfo

pytestmark = pytest.mark.integration


def columns(client: bigquery.Client, table: str) -> list[tuple[str, str, str | None]]:
    return [(f.name, f.field_type, f.description) for f in client.get_table(table).schema]


def test_add_and_drop_column_change_the_schema_tables_get_reports(bq_client: bigquery.Client, dataset: str) -> None:
    table = f"{dataset}.answers"
    bq_client.query(f"create table `{table}` (request_hash string, updated_at timestamp)").result()
    described = bq_client.get_table(table)
    described.schema = [
        bigquery.SchemaField("request_hash", "STRING", description="the hash"),
        bigquery.SchemaField("updated_at", "TIMESTAMP"),
    ]
    bq_client.update_table(described, ["schema"])
    bq_client.query(f"alter table `{table}` add column if not exists judged_at timestamp").result()
    assert columns(bq_client, table) == [
        ("request_hash", "STRING", "the hash"),  # a kept column keeps its description
        ("updated_at", "TIMESTAMP", None),
        ("judged_at", "TIMESTAMP", None),
    ]
    bq_client.query(f"alter table `{table}` add column if not exists judged_at timestamp").result()  # a no-op
    bq_client.query(f"alter table `{table}` drop column updated_at").result()
    assert columns(bq_client, table) == [("request_hash", "STRING", "the hash"), ("judged_at", "TIMESTAMP", None)]


def test_columns_added_by_a_script_are_seen_by_tables_get_and_by_views(
    bq_client: bigquery.Client, dataset: str
) -> None:
    """The package's on-run-start sends CREATE TABLE IF NOT EXISTS + ALTERs as one script; BigQuery applies each
    statement to the schema, so a view selecting * from the table sees the added column in the same build (an
    upgraded project's first build failed on `missing_count` before)."""
    table = f"{dataset}.ledger"
    bq_client.query(f"create table `{table}` (job_name string)").result()
    bq_client.query(
        f"create table if not exists `{table}` (job_name string, missing_count int64);\n"
        f"alter table `{table}` add column if not exists missing_count int64;\n"
        f"alter table `{table}` set options (expiration_timestamp = null)"
    ).result()
    assert [name for name, _, _ in columns(bq_client, table)] == ["job_name", "missing_count"]
    bq_client.query(
        f"create view `{dataset}.history` as with jobs as (select * from `{table}`) "
        "select job_name, coalesce(missing_count, 0) as missing from jobs"
    ).result()
    assert list(bq_client.query(f"select * from `{dataset}.history`").result()) == []


def test_a_view_gets_its_schema_without_being_run(bq_client: bigquery.Client, dataset: str) -> None:
    bq_client.query(f"create table `{dataset}.t` as select 1 as id, 'a' as label").result()
    # ERROR() raises when a row is computed (BigQuery and DuckDB alike): creating the view must not compute one
    bq_client.query(
        f"create view `{dataset}.v` as select id, label, if(id = 1, error('the view ran'), 'x') as checked, "
        f"row_number() over (partition by label order by id) as n from `{dataset}.t`"
    ).result()
    assert [(f.name, f.field_type) for f in bq_client.get_table(f"{dataset}.v").schema] == [
        ("id", "INTEGER"),
        ("label", "STRING"),
        ("checked", "STRING"),
        ("n", "INTEGER"),
    ]
    with pytest.raises(BadRequest, match="the view ran"):  # reading it does run it
        bq_client.query(f"select * from `{dataset}.v`").result()


@pytest.mark.parametrize(
    ("client_location", "options", "expected"),
    [
        ("US", "", "US"),  # a multi-region stays one: Vertex refuses it, so the local stack must show it
        ("EU", "", "EU"),
        ("europe-west4", "", "europe-west4"),
        ("us-central1", " options (location = 'EU')", "EU"),  # the statement's own location wins
        (None, "", "us-central1"),  # a job without a location: the stack's region
    ],
)
def test_create_schema_makes_the_dataset_in_the_query_jobs_location(
    local_stack: StackInfo, client_location: str | None, options: str, expected: str
) -> None:
    """dbt-bigquery makes a model's dataset with `create schema`, run in the profile's location."""
    client = local_bigquery_client(local_stack.bigquery_endpoint, local_stack.project, client_location)
    name = f"t_{uuid.uuid4().hex[:10]}"
    try:
        client.query(f"create schema if not exists `{local_stack.project}.{name}`{options}").result()
        assert client.get_dataset(name).location == expected
    finally:
        client.delete_dataset(name, delete_contents=True, not_found_ok=True)


def test_a_view_is_read_as_a_view_and_row_access_policies_still_apply_through_it(
    bq_client: bigquery.Client, dataset: str
) -> None:
    """Without a row access policy the local BigQuery reads a view as it is (gemini_batch.local.bqemulator_views);
    with one, a read through the view is filtered as on BigQuery (policies apply through views)."""
    bq_client.query(f"create table `{dataset}.t` as select 1 as id, 'a' as region union all select 2, 'b'").result()
    bq_client.query(f"create view `{dataset}.v` as select id, region from `{dataset}.t`").result()

    def ids() -> list[int]:
        return [r["id"] for r in bq_client.query(f"select id from `{dataset}.v` order by id").result()]

    assert ids() == [1, 2]
    bq_client.query(
        f"create row access policy only_a on `{dataset}.t` grant to ('allUsers') filter using (region = 'a')"
    ).result()
    try:
        assert ids() == [1]
    finally:  # the session's other tests read views without a policy in the catalog
        bq_client.query(f"drop row access policy only_a on `{dataset}.t`").result()
    assert ids() == [1, 2]
