{% macro _schema_parse_options(tokens, cursor, context) -%}
    {#- Parse `(key=value, ...)` after OPTIONS: description='text', enum=['a', 'b'], required=true|false,
        nullable=true|false. Returns the keys given. -#}
    {%- set options = {} -%}
    {%- do gemini_batch._schema_expect(tokens, cursor, '(', context) -%}
    {%- for _ in range(tokens | length) -%}
        {%- if cursor.position < tokens | length and tokens[cursor.position] != ')' -%}
            {%- set key = tokens[cursor.position] | lower -%}
            {%- set cursor.position = cursor.position + 1 -%}
            {%- do gemini_batch._schema_expect(tokens, cursor, '=', context) -%}
            {%- set token = tokens[cursor.position] if cursor.position < tokens | length else ')' -%}
            {%- if key == 'description' and token[:1] in ('"', "'") -%}
                {%- do options.update({'description': gemini_batch._schema_unquote(token)}) -%}
                {%- set cursor.position = cursor.position + 1 -%}
            {%- elif key in ('required', 'nullable') and token | lower in ('true', 'false') -%}
                {%- do options.update({key: token | lower == 'true'}) -%}
                {%- set cursor.position = cursor.position + 1 -%}
            {%- elif key == 'enum' and token == '[' -%}
                {%- set values = gemini_batch._schema_parse_enum(tokens, cursor, context) -%}
                {%- do gemini_batch._schema_expect(tokens, cursor, ']', context) -%}
                {%- do options.update({'enum': values}) -%}
            {%- else -%}
                {{- exceptions.raise_compiler_error(context ~ ": unsupported option " ~ key ~ "=" ~ token ~ "; use description='...', enum=['a', 'b'], required=true|false or nullable=true|false") -}}
            {%- endif -%}
            {%- if cursor.position < tokens | length and tokens[cursor.position] == ',' -%}
                {%- set cursor.position = cursor.position + 1 -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do gemini_batch._schema_expect(tokens, cursor, ')', context) -%}
    {{- return(options) -}}
{%- endmacro %}
