{% macro _schema_type_tree(data_type, context) -%}
    {#- One type given as text in any BigQuery spelling (int64, INTEGER, ARRAY<STRING>, STRUCT<a INT64>) -> type tree
        (see _schema_parse_type); raises naming `context` when it is not a whole type. -#}
    {%- set tokens = gemini_batch._schema_tokens(data_type) -%}
    {%- set cursor = namespace(position=0) -%}
    {%- set tree = gemini_batch._schema_parse_type(tokens, cursor, context) -%}
    {%- if cursor.position < tokens | length -%}
        {{- exceptions.raise_compiler_error(context ~ ": unexpected '" ~ tokens[cursor.position] ~ "' in type '" ~ data_type ~ "'") -}}
    {%- endif -%}
    {{- return(tree) -}}
{%- endmacro %}
