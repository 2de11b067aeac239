{% macro response_json_value(json_path, data_type='string', response='response') -%}
    {#- JSON_VALUE returns the scalar at json_path as STRING (NULL for objects, arrays, a missing path or unparsable
        output); SAFE_CAST then gives NULL, never an error, when it does not fit the type. Numbers and booleans written as
        strings ("7", "true") are accepted; an int64 must be an integer (3.0 is not one on BigQuery). -#}
    {%- set sql_types = {
        'string': none, 'int64': 'int64', 'float64': 'float64', 'bool': 'bool',
        'numeric': 'numeric', 'date': 'date', 'timestamp': 'timestamp',
    } -%}
    {%- set type_name = (data_type | string | lower | trim) -%}
    {%- if type_name not in sql_types -%}
        {{- exceptions.raise_compiler_error("gemini_batch.response_json_value: data_type must be one of " ~ (sql_types.keys() | list | join(', ')) ~ "; got '" ~ data_type ~ "'") -}}
    {%- endif -%}
    {%- if json_path is not string or not json_path.startswith('$') -%}
        {{- exceptions.raise_compiler_error("gemini_batch.response_json_value: json_path must be a JSONPath starting with $, e.g. '$.sentiment'; got '" ~ json_path ~ "'") -}}
    {%- endif -%}
    {%- set value_sql = 'json_value(' ~ gemini_batch._json_parsed_output() ~ ', ' ~ gemini_batch._json_sql_literal(json_path) ~ ')' -%}
    {%- if sql_types[type_name] is not none -%}
        {%- set value_sql = 'safe_cast(' ~ value_sql ~ ' as ' ~ sql_types[type_name] ~ ')' -%}
    {%- endif -%}
    {{ gemini_batch._json_output_text(response, value_sql) }}
{%- endmacro %}
