{% macro _schema_unquote(token) -%}
    {#- The text of a quoted string token ('...' or "..."): a backslash keeps the next character (\' \" \\). -#}
    {{- return(modules.re.sub('\\\\(.)', '\\1', token[1:-1])) -}}
{%- endmacro %}
