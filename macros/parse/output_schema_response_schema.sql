{% macro output_schema_response_schema(output_schema) -%}
    {#- The Vertex responseSchema (OpenAPI subset: type, properties, items, required, description, enum, format,
        nullable) for an output_schema, as a dict for request(response_schema=...). Never responseJsonSchema: users
        report degenerate JSON from it through batch. Types: STRING -> STRING, INT64 -> INTEGER, FLOAT64/NUMERIC/
        BIGNUMERIC -> NUMBER, BOOL -> BOOLEAN, DATE -> STRING format date, TIMESTAMP/DATETIME -> STRING format
        date-time, ARRAY -> ARRAY with items, STRUCT -> OBJECT with properties and required. JSON has no counterpart in
        the subset (an OBJECT needs properties) and is rejected. -#}
    {%- set fields = gemini_batch.output_schema_fields(output_schema) -%}
    {{- return(gemini_batch._schema_object(fields)) -}}
{%- endmacro %}
