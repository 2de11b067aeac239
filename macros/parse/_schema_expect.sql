{% macro _schema_expect(tokens, cursor, expected, context) -%}
    {#- Consume the token `expected` at the cursor or raise a compile error saying what was found instead. -#}
    {%- set found = tokens[cursor.position] if cursor.position < tokens | length else 'the end' -%}
    {%- if found != expected -%}
        {{- exceptions.raise_compiler_error(context ~ ": expected '" ~ expected ~ "' but found '" ~ found ~ "' in '" ~ tokens | join(' ') ~ "'") -}}
    {%- endif -%}
    {%- set cursor.position = cursor.position + 1 -%}
{%- endmacro %}
