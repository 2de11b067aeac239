{% macro _schema_tokens(text) -%}
    {#- Split a BigQuery column list / type ('a INT64, b ARRAY<STRUCT<x STRING>> OPTIONS(description="...")') into
        tokens: quoted strings, `quoted identifiers`, words, numbers and the punctuation < > ( ) , = [ ]. Any other
        character is a token of its own, so the parser reports it instead of skipping it. -#}
    {{- return(modules.re.findall(
        "'(?:[^'\\\\]|\\\\.)*'|\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]+`|[A-Za-z_][A-Za-z0-9_]*|-?[0-9]+(?:\\.[0-9]+)?|\\S",
        text | string
    )) -}}
{%- endmacro %}
