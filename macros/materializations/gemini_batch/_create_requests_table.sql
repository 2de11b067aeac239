{#- The staging table of m__requests: the model's rows, `request` as JSON text, and request_hash = sha256(gemini
    model + request text). Identical requests share a hash, so they are sent once and all their rows get the answer.
    `* replace` keeps the model's column order and, unlike `* except (request)`, never expands to zero columns, which
    BigQuery rejects ("SELECT * expands to zero columns after applying EXCEPT") for a model selecting only `request`.
    With a cascade (escalate_to) also escalation_hash, the request's hash under the second model (_escalation.sql).
    Columns of the package's, so that later statements read a few bytes a row instead of the requests or the cache
    (on-demand BigQuery bills every column a query names, for every row it scans; this statement reads the model's
    rows, the cache's hash, status, attempts, judged_at and updated_at columns and the key and hash columns of the
    m__requests it replaces once, whatever it computes):
      gemini_batch_response_schema  the request's generationConfig.responseSchema as JSON text ('' when it has none),
        on one row per schema and hash prefix and NULL elsewhere: _shared_response_schema reads a few hundred values
        ("NULL values ... are calculated as 0 bytes", cloud.google.com/bigquery/docs/reference/standard-sql/data-types#data_type_sizes).
        Partitioned by the hash's first two characters too, never by the schema alone: one window partition of every
        row would have to fit one BigQuery worker.
      gemini_batch_state  what the cache held for the row's hash when the model was built (_state_codes): 0 answered
        and judged, 1 answered but not judged yet, 2 never answered, 3 failed with attempts left, 4 given up.
      gemini_batch_first  true on one row per request_hash, NULL on the others: distinct requests counted without
        reading the hashes.
      gemini_batch_previous_key, gemini_batch_previous_hashes  on a row whose key (key_columns) had another request
        hash in the m__requests being replaced (previous_relation), its key and those hashes; NULL elsewhere
        (_previous_columns): what the answer history records (_record_changed_keys), read in a few bytes.
    The table is clustered by gemini_batch_state, then request_hash: a filter such as `gemini_batch_state >= 1` with a
    constant prunes the blocks of answered rows (cloud.google.com/bigquery/docs/querying-clustered-tables), so the
    pre-submission check and the hook's pending selection read the requests of the rows that may be sent, not all.
    responses_relation: the existing m__responses, or none (no cache yet, or answers being discarded: every row
    never answered). SAFE.: a malformed request is left to _check_requests, which names it. -#}
{% macro _create_requests_table(staging_table, staged_relation, request_text, gemini_model, escalate_to=none, responses_relation=none, max_attempts=3, retry_unusable=true, previous_relation=none, key_columns=[]) %}
    create table {{ staging_table }}
    cluster by {{ gemini_batch._state_column() }}, request_hash
    {{ gemini_batch._table_options('staging') }}
    as
    select
        hashed.* except ({{ gemini_batch._helper_columns() }}),
        if(
            row_number() over (partition by hashed.gemini_batch_schema_text, substr(hashed.request_hash, 1, 2)) = 1,
            coalesce(hashed.gemini_batch_schema_text, ''),
            null
        ) as {{ gemini_batch._response_schema_column() }},
        {{ gemini_batch._state_sql(responses_relation, max_attempts, retry_unusable) }} as {{ gemini_batch._state_column() }},
        if(row_number() over (partition by hashed.request_hash) = 1, true, null) as gemini_batch_first,
        {{ gemini_batch._previous_columns(previous_relation) }}
    from (
        select
            staged.* replace ({{ request_text }} as request),
            to_hex(sha256(concat({{ gemini_batch._sql_string(gemini_model) }}, '\n', {{ request_text }}))) as request_hash{{ gemini_batch._escalation_column(escalate_to, request_text) }},
            cast(coalesce(
                safe.json_query({{ request_text }}, '$.generationConfig.responseSchema'),
                safe.json_query({{ request_text }}, '$.generation_config.response_schema')
            ) as string) as gemini_batch_schema_text,
            {{ gemini_batch._row_key_column(previous_relation, key_columns) }}
        from {{ staged_relation }} as staged
    ) as hashed
    {{ gemini_batch._staging_joins(responses_relation, previous_relation, key_columns) }}
{% endmacro %}

{#- The joins of the staging CTAS: the cache (_state_join) and the m__requests being replaced (_previous_join). -#}
{% macro _staging_joins(responses_relation, previous_relation, key_columns) %}
    {{- gemini_batch._state_join(responses_relation) }}
    {{ gemini_batch._previous_join(previous_relation, key_columns) -}}
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

{#- The staged row's key (_row_key_sql) as gemini_batch_row_key when it is compared with a previous m__requests, for
    _previous_join; else a constant NULL. Both are helpers of the CTAS (_helper_columns), never stored. -#}
{% macro _row_key_column(previous_relation, key_columns) %}
    {%- if previous_relation is none -%}
        cast(null as string) as gemini_batch_row_key
    {%- else -%}
        {{ gemini_batch._row_key_sql('staged', key_columns) }} as gemini_batch_row_key
    {%- endif -%}
{% endmacro %}

{% macro _helper_columns() %}
    {{- return('gemini_batch_schema_text, gemini_batch_row_key') -}}
{% endmacro %}

{#- Last good answer (_answer_history.sql): the m__requests being replaced (previous_relation), its request hashes
    per key, left-joined by the row's key; nothing without one. -#}
{% macro _previous_join(previous_relation, key_columns) %}
    {%- if previous_relation is not none -%}
        left join (
            select
                {{ gemini_batch._row_key_sql('old', key_columns) }} as row_key,
                string_agg(distinct old.request_hash, ',') as hashes
            from {{ previous_relation }} as old
            group by row_key
        ) as previous
            on hashed.gemini_batch_row_key = previous.row_key
    {%- endif -%}
{% endmacro %}

{#- gemini_batch_previous_key and gemini_batch_previous_hashes: on a row whose key had another request before (a
    changed prompt), its key and the earlier request hashes (comma-separated); NULL on every other row, so that the
    history step reads a few bytes per changed row (_record_changed_keys). -#}
{% macro _previous_columns(previous_relation) %}
    {%- if previous_relation is none -%}
        cast(null as string) as gemini_batch_previous_key,
        cast(null as string) as gemini_batch_previous_hashes
    {%- else -%}
        if(previous.hashes != hashed.request_hash, hashed.gemini_batch_row_key, null) as gemini_batch_previous_key,
        if(previous.hashes != hashed.request_hash, previous.hashes, null) as gemini_batch_previous_hashes
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
    {{- return(['request', 'request_hash', 'escalation_hash'] + gemini_batch._package_columns()) -}}
{% endmacro %}

{#- The columns of m__requests the package adds besides request_hash (_create_requests_table): never shown in the
    model's view, never part of a row's key. -#}
{% macro _package_columns() %}
    {{- return([gemini_batch._response_schema_column(), gemini_batch._state_column(), 'gemini_batch_first',
        'gemini_batch_previous_key', 'gemini_batch_previous_hashes']) -}}
{% endmacro %}

{#- A Python/Jinja string as a BigQuery string literal (tojson escapes quotes, backslashes and control characters
    the way BigQuery's double-quoted literals read them). -#}
{% macro _sql_string(value) %}
    {{- return(value | string | tojson) -}}
{% endmacro %}
