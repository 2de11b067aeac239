{% macro _schema_property(type_tree, name) -%}
    {#- responseSchema of one type tree (see output_schema_response_schema). -#}
    {%- set kind = type_tree['type'] -%}
    {%- set simple = {
        'STRING': {'type': 'STRING'}, 'INT64': {'type': 'INTEGER'}, 'FLOAT64': {'type': 'NUMBER'},
        'NUMERIC': {'type': 'NUMBER'}, 'BIGNUMERIC': {'type': 'NUMBER'}, 'BOOL': {'type': 'BOOLEAN'},
        'DATE': {'type': 'STRING', 'format': 'date'}, 'TIMESTAMP': {'type': 'STRING', 'format': 'date-time'},
        'DATETIME': {'type': 'STRING', 'format': 'date-time'},
    } -%}
    {%- if kind in simple -%}
        {{- return(simple[kind].copy()) -}}
    {%- elif kind == 'ARRAY' -%}
        {{- return({'type': 'ARRAY', 'items': gemini_batch._schema_property(type_tree['items'], name)}) -}}
    {%- elif kind == 'STRUCT' -%}
        {{- return(gemini_batch._schema_object(type_tree['fields'])) -}}
    {%- endif -%}
    {{- exceptions.raise_compiler_error("gemini_batch output_schema, field " ~ name ~ ": " ~ kind ~ " has no responseSchema counterpart; use STRING (and parse it) or a STRUCT<...>") -}}
{%- endmacro %}
