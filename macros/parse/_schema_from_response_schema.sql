{% macro _schema_from_response_schema(schema, name) -%}
    {#- A Vertex responseSchema (OpenAPI subset: type OBJECT/ARRAY/STRING/INTEGER/NUMBER/BOOLEAN,
        properties, items, required, enum, format, nullable, description) -> a type tree, so the typed columns and
        output_state() work the same for a schema given to request() as response_schema. STRING with format date ->
        DATE, date-time -> TIMESTAMP; NUMBER -> FLOAT64; an OBJECT's fields are required only when listed in
        `required`, as in the API. -#}
    {%- set kind = (schema.get('type') or '') | upper -%}
    {%- set simple = {'INTEGER': 'INT64', 'NUMBER': 'FLOAT64', 'BOOLEAN': 'BOOL'} -%}
    {%- set formats = {'date': 'DATE', 'date-time': 'TIMESTAMP'} -%}
    {%- if kind == 'STRING' -%}
        {{- return({'type': formats.get(schema.get('format'), 'STRING')}) -}}
    {%- elif kind in simple -%}
        {{- return({'type': simple[kind]}) -}}
    {%- elif kind == 'ARRAY' and schema.get('items') is mapping -%}
        {{- return({'type': 'ARRAY', 'items': gemini_batch._schema_from_response_schema(schema['items'], name)}) -}}
    {%- elif kind == 'OBJECT' and schema.get('properties') -%}
        {%- set fields = [] -%}
        {%- for property_name, property in schema['properties'].items() -%}
            {%- do fields.append({
                'name': property_name, 'type': gemini_batch._schema_from_response_schema(property, property_name),
                'description': property.get('description'), 'enum': property.get('enum'),
                'required': property_name in (schema.get('required') or []), 'nullable': property.get('nullable', false),
            }) -%}
        {%- endfor -%}
        {{- return({'type': 'STRUCT', 'fields': fields}) -}}
    {%- endif -%}
    {{- exceptions.raise_compiler_error("gemini_batch output_schema, field " ~ name ~ ": responseSchema type '" ~ schema.get('type') ~ "' has no typed column (use STRING, INTEGER, NUMBER, BOOLEAN, ARRAY with items, OBJECT with properties)") -}}
{%- endmacro %}
