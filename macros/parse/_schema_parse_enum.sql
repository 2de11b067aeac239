{% macro _schema_parse_enum(tokens, cursor, context) -%}
    {#- The quoted strings of `[...]` (cursor on the `[`), unquoted; leaves the cursor on the closing `]`. -#}
    {%- set rest = tokens[cursor.position + 1:] -%}
    {%- if ']' not in rest -%}
        {{- exceptions.raise_compiler_error(context ~ ": unclosed [ in enum") -}}
    {%- endif -%}
    {%- set values = [] -%}
    {%- for value in rest[:rest.index(']')] if value != ',' -%}
        {%- if value[:1] not in ('"', "'") -%}
            {{- exceptions.raise_compiler_error(context ~ ": enum values must be quoted strings; got " ~ value) -}}
        {%- endif -%}
        {%- do values.append(gemini_batch._schema_unquote(value)) -%}
    {%- endfor -%}
    {%- set cursor.position = cursor.position + 1 + rest.index(']') -%}
    {{- return(values) -}}
{%- endmacro %}
