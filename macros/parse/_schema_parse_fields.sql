{% macro _schema_parse_fields(tokens, cursor, context, closing=none) -%}
    {#- Parse `name type [NOT NULL] [OPTIONS(key=value, ...)], ...` up to the token `closing` (STRUCT<...>) or the end.
        Returns [{'name', 'type', 'description', 'enum', 'required', 'nullable'}]. Every field is required (Gemini
        must write it) and not nullable unless OPTIONS say otherwise: OPTIONS(description='...') as in AI.GENERATE,
        plus enum=['a', 'b'], required=false, nullable=true. -#}
    {%- set fields = [] -%}
    {%- set names = [] -%}
    {%- for _ in range(tokens | length) -%}
        {%- if cursor.position < tokens | length and tokens[cursor.position] != closing -%}
            {%- set name = tokens[cursor.position] -%}
            {%- if name.startswith('`') -%}{%- set name = name[1:-1] -%}{%- endif -%}
            {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name) -%}
                {{- exceptions.raise_compiler_error(context ~ ": '" ~ name ~ "' is not a field name (letters, digits and _, not starting with a digit)") -}}
            {%- endif -%}
            {%- if name | lower in names -%}
                {{- exceptions.raise_compiler_error(context ~ ": field '" ~ name ~ "' is given twice") -}}
            {%- endif -%}
            {%- do names.append(name | lower) -%}
            {%- set cursor.position = cursor.position + 1 -%}
            {%- set field = {'name': name, 'type': gemini_batch._schema_parse_type(tokens, cursor, context ~ ", field " ~ name),
                             'description': none, 'enum': none, 'required': true, 'nullable': false} -%}
            {%- if (tokens[cursor.position:cursor.position + 2] | map('upper') | list) == ['NOT', 'NULL'] -%}
                {%- set cursor.position = cursor.position + 2 -%}
            {%- endif -%}
            {%- if cursor.position < tokens | length and tokens[cursor.position] | upper == 'OPTIONS' -%}
                {%- set cursor.position = cursor.position + 1 -%}
                {%- do field.update(gemini_batch._schema_parse_options(tokens, cursor, context ~ ", field " ~ name)) -%}
            {%- endif -%}
            {%- do fields.append(field) -%}
            {%- if cursor.position < tokens | length and tokens[cursor.position] == ',' -%}
                {%- set cursor.position = cursor.position + 1 -%}
            {%- elif cursor.position < tokens | length and tokens[cursor.position] != closing -%}
                {{- exceptions.raise_compiler_error(context ~ ": expected ',' after field " ~ name ~ " but found '" ~ tokens[cursor.position] ~ "'") -}}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not fields -%}
        {{- exceptions.raise_compiler_error(context ~ ": no fields in '" ~ tokens | join(' ') ~ "'") -}}
    {%- endif -%}
    {{- return(fields) -}}
{%- endmacro %}
