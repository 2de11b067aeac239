{% macro _json_sql_literal(text) -%}
    {#- Quote compile-time text (usually a JSON fragment) as a BigQuery string literal: backslashes and quotes are the only
        characters a '...' literal cannot hold as is; json.dumps output never has raw newlines, but other callers might. -#}
    {{- "'" ~ (text | string).replace('\\', '\\\\').replace("'", "\\'").replace('\n', '\\n').replace('\r', '\\r') ~ "'" -}}
{%- endmacro %}
