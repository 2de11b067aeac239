{% macro response_json_array(json_path, response='response', parsed=false) -%}
    {#- ARRAY<STRING> of the scalars of a list: response_json_value(json_path, 'ARRAY<STRING>'). Objects, arrays and JSON
        nulls in it give a NULL JSON_VALUE and are dropped (a BigQuery array cannot hold NULL). A missing path or
        unparsable output gives UNNEST(NULL), so the result is an empty array, never NULL. -#}
    {%- if json_path is not string or not json_path.startswith('$') -%}
        {{- exceptions.raise_compiler_error("gemini_batch.response_json_array: json_path must be a JSONPath starting with $, e.g. '$.tags'; got '" ~ json_path ~ "'") -}}
    {%- endif -%}
    {{ gemini_batch.response_json_value(json_path, 'ARRAY<STRING>', response, parsed) }}
{%- endmacro %}
