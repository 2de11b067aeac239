{#- The staging table of m__requests: the model's rows, `request` as JSON text, and request_hash = sha256(gemini
    model + request text). Identical requests share a hash, so they are sent once and all their rows get the answer.
    `* replace` keeps the model's column order and, unlike `* except (request)`, never expands to zero columns, which
    BigQuery rejects ("SELECT * expands to zero columns after applying EXCEPT") for a model selecting only `request`.
    With a cascade (escalate_to) also escalation_hash, the request's hash under the second model (_escalation.sql).
    Three columns of the package's, so that later statements read a few bytes a row instead of the requests or the
    cache (on-demand BigQuery bills every column a query names, for every row it scans; this statement reads the
    model's rows and the cache's hash, status, attempts, judged_at and updated_at columns once, whatever it computes):
      gemini_batch_response_schema  the request's generationConfig.responseSchema as JSON text ('' when it has none),
        on one row per schema and hash prefix and NULL elsewhere: _shared_response_schema reads a few hundred values
        ("NULL values ... are calculated as 0 bytes", cloud.google.com/bigquery/docs/reference/standard-sql/data-types#data_type_sizes).
        Partitioned by the hash's first two characters too, never by the schema alone: one window partition of every
        row would have to fit one BigQuery worker.
      gemini_batch_state  what the cache held for the row's hash when the model was built (_state_codes): 0 answered
        and judged, 1 answered but not judged yet, 2 never answered, 3 failed with attempts left, 4 given up.
      gemini_batch_first  true on one row per request_hash, NULL on the others: distinct requests counted without
        reading the hashes.
    The table is clustered by gemini_batch_state, then request_hash: a filter such as `gemini_batch_state >= 1` with a
    constant prunes the blocks of answered rows (cloud.google.com/bigquery/docs/querying-clustered-tables), so the
    pre-submission check and the hook's pending selection read the requests of the rows that may be sent, not all.
    responses_relation: the existing m__responses, or none (no cache yet, or answers being discarded: every row
    never answered). SAFE.: a malformed request is left to _check_requests, which names it. -#}
{% macro _create_requests_table(staging_table, staged_relation, request_text, gemini_model, escalate_to=none, responses_relation=none, max_attempts=3, retry_unusable=true) %}
    create table {{ staging_table }}
    cluster by {{ gemini_batch._state_column() }}, request_hash
    {{ gemini_batch._table_options('staging') }}
    as
    select
        hashed.* except (gemini_batch_schema_text),
        if(
            row_number() over (partition by hashed.gemini_batch_schema_text, substr(hashed.request_hash, 1, 2)) = 1,
            coalesce(hashed.gemini_batch_schema_text, ''),
            null
        ) as {{ gemini_batch._response_schema_column() }},
        {{ gemini_batch._state_sql(responses_relation, max_attempts, retry_unusable) }} as {{ gemini_batch._state_column() }},
        if(row_number() over (partition by hashed.request_hash) = 1, true, null) as gemini_batch_first
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
    {{ gemini_batch._state_join(responses_relation) }}
{% endmacro %}

{#- The cache's columns a row's state reads (_state_sql), left-joined by hash; nothing without a cache. -#}
{% macro _state_join(responses_relation) %}
    {%- if responses_relation is not none -%}
        left join (
            select request_hash, status, attempts, judged_at, updated_at
            from {{ responses_relation }}
        ) as responses
            on hashed.request_hash = responses.request_hash
    {%- endif -%}
{% endmacro %}

{#- SQL: a staged row's gemini_batch_state from its cache row `responses` (left-joined; none: no cache, never
    answered). An answer not judged yet (judged_at is not its updated_at) is 1, not 0, while retry_unusable_answers
    is on: the materialization may still judge it unusable and make it pending. -#}
{% macro _state_sql(responses_relation, max_attempts, retry_unusable) %}
    {%- set codes = gemini_batch._state_codes() -%}
    {%- if responses_relation is none -%}
        {{- codes.never_answered -}}
    {%- else -%}
        case
            when responses.status = '' and {{ 'responses.judged_at = responses.updated_at' if retry_unusable else 'true' }}
                then {{ codes.answered }}
            when responses.status = '' then {{ codes.unjudged }}
            when {{ gemini_batch._pending_condition(max_attempts, 'never_answered') }} then {{ codes.never_answered }}
            when {{ gemini_batch._pending_condition(max_attempts, 'retry') }} then {{ codes.retry }}
            else {{ codes.given_up }}
        end
    {%- endif -%}
{% endmacro %}

{#- gemini_batch_state's values (_create_requests_table). -#}
{% macro _state_codes() %}
    {{- return({'answered': 0, 'unjudged': 1, 'never_answered': 2, 'retry': 3, 'given_up': 4}) -}}
{% endmacro %}

{% macro _state_column() %}
    {{- return('gemini_batch_state') -}}
{% endmacro %}

{#- The column of m__requests that holds each request's response schema on a few rows (_create_requests_table). It
    is the package's, like request_hash: not a key column, not shown in the model's view. -#}
{% macro _response_schema_column() %}
    {{- return('gemini_batch_response_schema') -}}
{% endmacro %}

{#- Columns of m__requests that are never part of a row's default key (_key_columns; the hook's key_columns in
    gemini_batch/spend/estimate.py reads the same list from NOT_KEY_COLUMNS). -#}
{% macro _not_key_columns() %}
    {{- return(['request', 'request_hash'] + gemini_batch._package_columns()) -}}
{% endmacro %}

{#- The columns of m__requests the package adds besides request_hash (_create_requests_table): never shown in the
    model's view, never part of a row's key. -#}
{% macro _package_columns() %}
    {{- return([gemini_batch._response_schema_column(), gemini_batch._state_column(), 'gemini_batch_first']) -}}
{% endmacro %}

{#- A Python/Jinja string as a BigQuery string literal (tojson escapes quotes, backslashes and control characters
    the way BigQuery's double-quoted literals read them). -#}
{% macro _sql_string(value) %}
    {{- return(value | string | tojson) -}}
{% endmacro %}
