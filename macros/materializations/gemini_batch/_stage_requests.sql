{#- Builds the new m__requests once into a staging table of this invocation and returns it. The model's SQL is first
    made a view (scans nothing) so its columns can be checked before anything runs, then executed exactly once by the
    CREATE TABLE AS, which also reads the existing answer cache (responses_relation) for each row's state and the
    m__requests it replaces (previous_relation) for the keys whose request changed. Staging
    relations are raw DDL, not create_view_as/create_table_as: those assert an enforced contract, which describes
    the model's final view, not these. -#}
{% macro _stage_requests(model_relation, model_sql, gemini_model, escalate_to=none, responses_relation=none, max_attempts=3, retry_unusable=true, unique_key=none, previous_relation=none) %}
    {%- set staging_view = gemini_batch._staging_relation(model_relation, 'view') -%}
    {%- set staging_table = gemini_batch._staging_relation(model_relation, 'table') -%}
    {%- set sql_header = config.get('sql_header', none) -%}
    {%- call statement('gemini_batch_stage_view') -%}
        {{ sql_header if sql_header is not none }}
        create or replace view {{ staging_view }}
        options (expiration_timestamp = {{ gemini_batch._staging_expiration() }})
        as {{ model_sql }}
    {%- endcall -%}
    {%- set columns = gemini_batch._check_model_columns(staging_view) -%}
    {%- if columns.problem is none -%}
        {#- JSON is stored as its JSON text: what the hook sends and what the hash covers. -#}
        {%- set request_text = 'to_json_string(staged.request)' if columns.request_type == 'JSON' else 'staged.request' -%}
        {#- The m__requests being replaced is compared by key only when it has every key column (a model whose
            columns changed starts its history afresh) and there is a key at all. -#}
        {%- set key_columns = gemini_batch._key_columns(staging_view, unique_key) -%}
        {%- if previous_relation is not none -%}
            {%- set old_columns = adapter.get_columns_in_relation(previous_relation) | map(attribute='name') | map('lower') | list -%}
            {%- if not key_columns or 'request_hash' not in old_columns
                  or key_columns | map('lower') | reject('in', old_columns) | list | length > 0 -%}
                {%- set previous_relation = none -%}
            {%- endif -%}
        {%- endif -%}
        {%- call statement('main') -%}
            {{ gemini_batch._create_requests_table(staging_table, staging_view, request_text, gemini_model, escalate_to,
                responses_relation, max_attempts, retry_unusable, previous_relation, key_columns) }}
        {%- endcall -%}
    {%- endif -%}
    {#- SQL rather than adapter.drop_relation: bqemulator's tables.delete cannot drop a view (it issues DROP TABLE). -#}
    {%- call statement('gemini_batch_drop_stage_view') -%}
        drop view if exists {{ staging_view }}
    {%- endcall -%}
    {%- if columns.problem is not none -%}
        {{ exceptions.raise_compiler_error(columns.problem) }}
    {%- endif -%}
    {{ return(staging_table) }}
{% endmacro %}

{#- Staging relations outlive one materialization by far; the expiration removes any left by a crash. -#}
{% macro _staging_expiration() %}
    {{- return('timestamp_add(current_timestamp(), interval 1 day)') -}}
{% endmacro %}
