{#- The staging table of m__requests: the model's rows, `request` as JSON text, and request_hash = sha256(gemini
    model + request text). Identical requests share a hash, so they are sent once and all their rows get the answer.
    `* replace` keeps the model's column order and, unlike `* except (request)`, never expands to zero columns, which
    BigQuery rejects ("SELECT * expands to zero columns after applying EXCEPT") for a model selecting only `request`.
    With a cascade (escalate_to) also escalation_hash, the request's hash under the second model (_escalation.sql).
    gemini_batch_response_schema: the request's generationConfig.responseSchema as JSON text ('' when it has none),
    written on one row per schema and hash prefix and NULL on every other row, so that _shared_response_schema reads
    a column of a few hundred values instead of every request: on-demand BigQuery bills a column's non-NULL values
    ("NULL values ... are calculated as 0 bytes", cloud.google.com/bigquery/docs/reference/standard-sql/data-types#data_type_sizes),
    and this statement reads only the model's rows, whatever it computes. The window is partitioned by the hash's
    first two characters too (256 partitions per schema), never by the schema alone: one partition of every row
    would have to fit one BigQuery worker. SAFE.: a malformed request is left to _check_requests, which names it.
    Clustered by request_hash like m__responses: the hook and the view join on it. -#}
{% macro _create_requests_table(staging_table, staged_relation, request_text, gemini_model, escalate_to=none) %}
    create table {{ staging_table }}
    cluster by request_hash
    {{ gemini_batch._table_options('staging') }}
    as
    select
        hashed.* except (gemini_batch_schema_text),
        if(
            row_number() over (partition by hashed.gemini_batch_schema_text, substr(hashed.request_hash, 1, 2)) = 1,
            coalesce(hashed.gemini_batch_schema_text, ''),
            null
        ) as {{ gemini_batch._response_schema_column() }}
    from (
        select
            staged.* replace ({{ request_text }} as request),
            to_hex(sha256(concat({{ gemini_batch._sql_string(gemini_model) }}, '\n', {{ request_text }}))) as request_hash{{ gemini_batch._escalation_column(escalate_to, request_text) }},
            cast(coalesce(
                safe.json_query({{ request_text }}, '$.generationConfig.responseSchema'),
                safe.json_query({{ request_text }}, '$.generation_config.response_schema')
            ) as string) as gemini_batch_schema_text
        from {{ staged_relation }} as staged
    ) as hashed
{% endmacro %}

{#- The column of m__requests that holds each request's response schema on a few rows (_create_requests_table). It
    is the package's, like request_hash: not a key column, not shown in the model's view. -#}
{% macro _response_schema_column() %}
    {{- return('gemini_batch_response_schema') -}}
{% endmacro %}

{#- Columns of m__requests that are never part of a row's default key (_key_columns; the hook's key_columns in
    gemini_batch/spend/estimate.py reads the same list from NOT_KEY_COLUMNS). -#}
{% macro _not_key_columns() %}
    {{- return(['request', 'request_hash', gemini_batch._response_schema_column()]) -}}
{% endmacro %}

{#- A Python/Jinja string as a BigQuery string literal (tojson escapes quotes, backslashes and control characters
    the way BigQuery's double-quoted literals read them). -#}
{% macro _sql_string(value) %}
    {{- return(value | string | tojson) -}}
{% endmacro %}
