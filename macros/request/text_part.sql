{% macro text_part(text, required=false) -%}
    {#- An extra text part for request(parts=[...]), like a plain SQL expression string there, but with a choice: by
        default a row where `text` is NULL has no such part (the request stays valid); required=true makes the request
        NULL instead, so the pre-submission check names the row. Returns a dict for request(), not SQL. -#}
    {%- set part_sql -%}
        concat('{"text":', {{ gemini_batch._json_string(text) }}, '}')
    {%- endset -%}
    {{- return({'gemini_batch_part': 'text', 'sql': part_sql, 'present': '(' ~ text ~ ') is not null', 'required': required}) -}}
{%- endmacro %}
