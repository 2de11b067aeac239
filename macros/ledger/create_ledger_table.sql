{#- The job ledger: state events of the Vertex batch jobs the hook submitted, append-only (a job's state is its latest
    row by updated_at; BigQuery fails concurrent UPDATEs beyond two per table, INSERTs never conflict). Created by the package's on-run-start hook so it
    exists before the ledger models read it and before the Python hook writes to it. The hook (python_hooks/
    gemini_batch/ledger.py) writes these columns; tests/unit/test_batch_helpers.py checks both sides name the same ones.
    The dataset is created only when missing: dbt-bigquery's create_schema is a datasets.insert call, which needs the
    project-level bigquery.datasets.create permission even when the dataset exists (an identity with dataEditor on the
    dataset alone would fail every run).
    Upgrades migrate in place: a ledger made by an earlier release gets every column it lacks (ADD COLUMN IF NOT
    EXISTS, one ALTER per column: bqemulator takes one action per ALTER statement, BigQuery either form), so the
    package's models that read the new columns work on the first build after an upgrade and no recorded job is lost.
    The columns present are read from the table's metadata (one tables.get), so a ledger that is up to date costs no
    DDL job. The ALTER clears an expiration the table took from the dataset's default (BigQuery sets it at creation;
    NULL clears it): the ledger must never expire. bqemulator keeps no table expiration, so the local tests cannot
    observe that part. -#}
{% macro create_ledger_table() %}
    {%- if execute -%}
        {%- set columns = [
            ('job_name', 'string'),
            ('display_name', 'string'),
            ('dbt_node', 'string'),
            ('responses_table', 'string'),
            ('gemini_model', 'string'),
            ('vertex_project', 'string'),
            ('vertex_location', 'string'),
            ('input_table', 'string'),
            ('output_table', 'string'),
            ('state', 'string'),
            ('error', 'string'),
            ('request_count', 'int64'),
            ('succeeded_count', 'int64'),
            ('failed_count', 'int64'),
            ('prompt_tokens', 'int64'),
            ('output_tokens', 'int64'),
            ('thoughts_tokens', 'int64'),
            ('cached_tokens', 'int64'),
            ('total_tokens', 'int64'),
            ('missing_count', 'int64'),
            ('mismatched_count', 'int64'),
            ('long_context_prompt_tokens', 'int64'),
            ('long_context_output_tokens', 'int64'),
            ('long_context_thoughts_tokens', 'int64'),
            ('long_context_cached_tokens', 'int64'),
            ('invocation_id', 'string'),
            ('lease_token', 'string'),
            ('submitted_at', 'timestamp'),
            ('finished_at', 'timestamp'),
            ('collected_at', 'timestamp'),
            ('updated_at', 'timestamp'),
            ('kind', 'string'),
        ] -%}
        {%- set ledger = source('gemini_batch', 'gemini_batch_jobs') -%}
        {%- do gemini_batch._check_ledger_relation(ledger) -%}
        {%- if not adapter.check_schema_exists(ledger.database, ledger.schema) -%}
            {%- do adapter.create_schema(api.Relation.create(database=ledger.database, schema=ledger.schema)) -%}
        {%- endif -%}
        {%- set present = adapter.get_columns_in_relation(ledger) | map(attribute='name') | map('lower') | list -%}
        {%- set column_ddl = [] -%}
        {%- for name, type in columns -%}
            {%- do column_ddl.append(name ~ ' ' ~ type) -%}
        {%- endfor %}
        create table if not exists {{ ledger }} ({{ column_ddl | join(', ') }});
        {%- for name, type in columns if present and name not in present %}
            alter table {{ ledger }} add column if not exists {{ name }} {{ type }};
        {%- endfor %}
        alter table {{ ledger }} set options (expiration_timestamp = null)
    {%- endif -%}
{% endmacro %}
