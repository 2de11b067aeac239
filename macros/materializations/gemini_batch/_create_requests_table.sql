{#- m__requests: the model's rows, `request` as JSON text, and request_hash = sha256(gemini model + request text).
    Identical requests share a hash, so they are sent once and all their rows get the answer. -#}
{% macro _create_requests_table(requests_relation, staged_relation, request_text, gemini_model) %}
    create or replace table {{ requests_relation }}
    as
    select
        staged.* except (request),
        {{ request_text }} as request,
        to_hex(sha256(concat({{ gemini_batch._sql_string(gemini_model) }}, '\n', {{ request_text }}))) as request_hash
    from {{ staged_relation }} as staged
{% endmacro %}

{#- A Python/Jinja string as a BigQuery string literal (tojson escapes quotes, backslashes and control characters
    the way BigQuery's double-quoted literals read them). -#}
{% macro _sql_string(value) %}
    {{- return(value | string | tojson) -}}
{% endmacro %}
