{#- The staging table of m__requests: the model's rows, `request` as JSON text, and request_hash = sha256(gemini
    model + request text). Identical requests share a hash, so they are sent once and all their rows get the answer.
    `* replace` keeps the model's column order and, unlike `* except (request)`, never expands to zero columns, which
    BigQuery rejects ("SELECT * expands to zero columns after applying EXCEPT") for a model selecting only `request`.
    With a cascade (escalate_to) also escalation_hash, the request's hash under the second model (_escalation.sql).
    Clustered by request_hash like m__responses: the hook and the view join on it. -#}
{% macro _create_requests_table(staging_table, staged_relation, request_text, gemini_model, escalate_to=none) %}
    create table {{ staging_table }}
    cluster by request_hash
    {{ gemini_batch._table_options('staging') }}
    as
    select
        staged.* replace ({{ request_text }} as request),
        to_hex(sha256(concat({{ gemini_batch._sql_string(gemini_model) }}, '\n', {{ request_text }}))) as request_hash{{ gemini_batch._escalation_column(escalate_to, request_text) }}
    from {{ staged_relation }} as staged
{% endmacro %}

{#- A Python/Jinja string as a BigQuery string literal (tojson escapes quotes, backslashes and control characters
    the way BigQuery's double-quoted literals read them). -#}
{% macro _sql_string(value) %}
    {{- return(value | string | tojson) -}}
{% endmacro %}
