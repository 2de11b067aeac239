{% macro output_schema_fields(output_schema) -%}
    {#- Normalise an output_schema to a list of fields [{'name', 'type', 'description', 'enum', 'required',
        'nullable'}], each type a tree ({'type': 'INT64'}, {'type': 'ARRAY', 'items': ...},
        {'type': 'STRUCT', 'fields': [...]}). Accepts BigQuery's column-list syntax
        ('sentiment STRING OPTIONS(description="..."), score FLOAT64, topics ARRAY<STRING>') or a dict
        {name: 'TYPE'} / {name: {'type': 'TYPE', 'description': ..., 'enum': [...], 'required': bool,
        'nullable': bool, 'fields': {...} for a STRUCT, 'items': spec for an ARRAY}}, or a Vertex responseSchema dict
        ({'type': 'OBJECT', 'properties': {...}, 'required': [...]}, see _schema_from_response_schema). -#}
    {%- set context = 'gemini_batch output_schema' -%}
    {%- if output_schema is string -%}
        {%- set tokens = gemini_batch._schema_tokens(output_schema) -%}
        {%- set cursor = namespace(position=0) -%}
        {%- set fields = gemini_batch._schema_parse_fields(tokens, cursor, context) -%}
        {%- if cursor.position < tokens | length -%}
            {{- exceptions.raise_compiler_error(context ~ ": unexpected '" ~ tokens[cursor.position] ~ "' in '" ~ output_schema ~ "'") -}}
        {%- endif -%}
        {{- return(fields) -}}
    {%- endif -%}
    {%- if output_schema is mapping and (output_schema.get('type') | string | upper) == 'OBJECT' and output_schema.get('properties') is mapping -%}
        {#- A responseSchema (as given to request(response_schema=...)): its OBJECT's properties are the fields. -#}
        {{- return(gemini_batch._schema_from_response_schema(output_schema, 'response_schema')['fields']) -}}
    {%- endif -%}
    {%- if output_schema is not mapping or not output_schema -%}
        {{- exceptions.raise_compiler_error(context ~ " must be a BigQuery column list ('name TYPE, ...') or a non-empty dict {name: type}; got " ~ output_schema) -}}
    {%- endif -%}
    {%- set fields = [] -%}
    {%- for name, spec in output_schema.items() -%}
        {%- set field_context = context ~ ", field " ~ name -%}
        {%- set spec = {'type': spec} if spec is string else spec -%}
        {%- if spec is not mapping or spec.get('type') is none -%}
            {{- exceptions.raise_compiler_error(field_context ~ ": give a type string or a dict with a 'type'; got " ~ spec) -}}
        {%- endif -%}
        {%- for key in spec if key not in ('type', 'description', 'enum', 'required', 'nullable', 'fields', 'items') -%}
            {{- exceptions.raise_compiler_error(field_context ~ ": unknown key '" ~ key ~ "' (type, description, enum, required, nullable, fields, items)") -}}
        {%- endfor -%}
        {%- if (spec['type'] | upper) == 'STRUCT' and spec.get('fields') -%}
            {%- set type_tree = {'type': 'STRUCT', 'fields': gemini_batch.output_schema_fields(spec['fields'])} -%}
        {%- elif (spec['type'] | upper) == 'ARRAY' and spec.get('items') -%}
            {%- set items = gemini_batch.output_schema_fields({'items': spec['items']})[0] -%}
            {%- set type_tree = {'type': 'ARRAY', 'items': items['type']} -%}
        {%- else -%}
            {%- set tokens = gemini_batch._schema_tokens(spec['type']) -%}
            {%- set cursor = namespace(position=0) -%}
            {%- set type_tree = gemini_batch._schema_parse_type(tokens, cursor, field_context) -%}
            {%- if cursor.position < tokens | length -%}
                {{- exceptions.raise_compiler_error(field_context ~ ": unexpected '" ~ tokens[cursor.position] ~ "' in type '" ~ spec['type'] ~ "'") -}}
            {%- endif -%}
        {%- endif -%}
        {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name | string) -%}
            {{- exceptions.raise_compiler_error(field_context ~ ": not a field name (letters, digits and _, not starting with a digit)") -}}
        {%- endif -%}
        {%- do fields.append({
            'name': name | string, 'type': type_tree, 'description': spec.get('description'), 'enum': spec.get('enum'),
            'required': spec.get('required', true), 'nullable': spec.get('nullable', false),
        }) -%}
    {%- endfor -%}
    {{- return(fields) -}}
{%- endmacro %}
