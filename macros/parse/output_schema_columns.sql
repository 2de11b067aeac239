{% macro output_schema_columns(output_schema, output='gemini_batch_output') -%}
    {#- A SELECT list with one typed column per field of output_schema, read from the parsed answer `output` (a JSON
        expression; parsed_response() provides gemini_batch_output). NULL where the answer lacks a field or its value
        does not fit the type (output_state() says why). -#}
    {%- set columns = [] -%}
    {%- for field in gemini_batch.output_schema_fields(output_schema) -%}
        {%- do columns.append(gemini_batch._json_typed_value(output, '$.' ~ field['name'], field['type']) ~ ' as ' ~ field['name']) -%}
    {%- endfor -%}
    {{ columns | join(',\n') }}
{%- endmacro %}
