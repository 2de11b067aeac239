{#- persist_docs for m__requests or m__responses: the model's yml documents the view's columns, and each table holds
    only some of them, so the column docs are narrowed to the table's own columns first. dbt would otherwise warn
    about every other documented column (an error under --warn-error). Policy tags travel with the column docs. -#}
{% macro _persist_table_docs(relation) %}
    {%- set present = adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list -%}
    {%- set columns = {} -%}
    {%- for name, column in (model.columns or {}).items() if name | lower in present -%}
        {%- do columns.update({name: column}) -%}
    {%- endfor -%}
    {%- set table_model = {} -%}
    {%- do table_model.update(model) -%}
    {%- do table_model.update({'columns': columns}) -%}
    {%- do persist_docs(relation, table_model) -%}
{% endmacro %}
