{% macro _json_string(expression) -%}
    {#- A SQL value as a JSON string literal ("..." with every character escaped by BigQuery itself), or NULL when the value
        is NULL. to_json_string(NULL) is the text 'null' on BigQuery (bqemulator returns NULL): nullif maps both to NULL,
        so a NULL input makes the surrounding concat() NULL. A non-NULL string never serializes to bare null. -#}
    nullif(to_json_string(cast(({{ expression }}) as string)), 'null')
{%- endmacro %}
