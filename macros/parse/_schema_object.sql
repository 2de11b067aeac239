{% macro _schema_object(fields) -%}
    {#- responseSchema OBJECT of a field list (see output_schema_response_schema); properties in the fields' order. -#}
    {%- set properties = {} -%}
    {%- set required = [] -%}
    {%- for field in fields -%}
        {%- set property = gemini_batch._schema_property(field['type'], field['name']) -%}
        {%- if field.get('description') -%}{%- do property.update({'description': field['description']}) -%}{%- endif -%}
        {%- if field.get('enum') -%}
            {#- On an ARRAY<STRING> the enum constrains each item (items.enum in the responseSchema). -#}
            {%- if field['type']['type'] == 'ARRAY' and field['type']['items']['type'] == 'STRING' -%}
                {%- do property['items'].update({'enum': field['enum'] | list}) -%}
            {%- elif field['type']['type'] == 'STRING' -%}
                {%- do property.update({'enum': field['enum'] | list}) -%}
            {%- else -%}
                {{- exceptions.raise_compiler_error("gemini_batch output_schema, field " ~ field['name'] ~ ": enum is only supported on STRING and ARRAY<STRING> fields") -}}
            {%- endif -%}
        {%- endif -%}
        {%- if field.get('nullable') -%}{%- do property.update({'nullable': true}) -%}{%- endif -%}
        {%- do properties.update({field['name']: property}) -%}
        {%- if field.get('required', true) -%}{%- do required.append(field['name']) -%}{%- endif -%}
    {%- endfor -%}
    {%- set schema = {'type': 'OBJECT', 'properties': properties} -%}
    {%- if required -%}{%- do schema.update({'required': required}) -%}{%- endif -%}
    {{- return(schema) -}}
{%- endmacro %}
