{% macro response_json_value(json_path, data_type='string', response='response', parsed=false) -%}
    {#- The value at json_path of the structured output as data_type, any BigQuery spelling (INT64/INTEGER/INT/...,
        FLOAT64/FLOAT, BOOL/BOOLEAN, NUMERIC/DECIMAL, BIGNUMERIC/BIGDECIMAL, STRING, DATE, TIMESTAMP, DATETIME, JSON,
        ARRAY<...>, STRUCT<...>), case-insensitive. NULL, never an error, when the output is unparsable, the path is
        missing or the value does not fit (see _json_typed_value). parsed=true reads parsed_response()'s
        gemini_batch_output column instead of rebuilding and re-parsing the answer. -#}
    {%- if json_path is not string or not json_path.startswith('$') -%}
        {{- exceptions.raise_compiler_error("gemini_batch.response_json_value: json_path must be a JSONPath starting with $, e.g. '$.sentiment'; got '" ~ json_path ~ "'") -}}
    {%- endif -%}
    {%- set type_tree = gemini_batch._schema_type_tree(data_type, 'gemini_batch.response_json_value: data_type') -%}
    {%- if parsed -%}
        {{ gemini_batch._json_typed_value('gemini_batch_output', json_path, type_tree) }}
    {%- else -%}
        {{ gemini_batch._json_output_text(response, gemini_batch._json_typed_value(gemini_batch._json_parsed_output(), json_path, type_tree)) }}
    {%- endif -%}
{%- endmacro %}
