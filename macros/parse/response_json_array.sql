{% macro response_json_array(json_path, response='response') -%}
    {#- Scalars only: objects, arrays and JSON nulls give a NULL JSON_VALUE and are dropped (a BigQuery array cannot hold
        NULL). A missing path or unparsable output gives UNNEST(NULL), so the result is an empty array, never NULL. -#}
    {%- if json_path is not string or not json_path.startswith('$') -%}
        {{- exceptions.raise_compiler_error("gemini_batch.response_json_array: json_path must be a JSONPath starting with $, e.g. '$.tags'; got '" ~ json_path ~ "'") -}}
    {%- endif -%}
    {%- set expression -%}
        array(
                select json_value(gemini_batch_item, '$')
                from unnest(json_query_array({{ gemini_batch._json_parsed_output() }}, {{ gemini_batch._json_sql_literal(json_path) }})) as gemini_batch_item
                    with offset as gemini_batch_item_index
                where json_value(gemini_batch_item, '$') is not null
                order by gemini_batch_item_index
            )
    {%- endset -%}
    {{ gemini_batch._json_output_text(response, expression) }}
{%- endmacro %}
