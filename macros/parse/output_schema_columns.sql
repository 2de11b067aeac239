{% macro output_schema_columns(output_schema, output='gemini_batch_output', prefix='') -%}
    {#- A SELECT list with one typed column per field of output_schema, read from the parsed answer `output` (a JSON
        expression; parsed_response() provides gemini_batch_output). NULL where the answer lacks a field or its value
        does not fit the type (output_state() says why). Each column is named prefix + the field's name (the
        materialization's view reads the last good answer into previous_<field> columns). -#}
    {%- set columns = [] -%}
    {%- for field in gemini_batch.output_schema_fields(output_schema) -%}
        {%- do columns.append(gemini_batch._json_typed_value(output, '$.' ~ field['name'], field['type']) ~ ' as ' ~ prefix ~ field['name']) -%}
    {%- endfor -%}
    {{ columns | join(',\n') }}
{%- endmacro %}
