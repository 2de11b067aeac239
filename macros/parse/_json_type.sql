{% macro _json_type(json_sql) -%}
    {{ return(adapter.dispatch('_json_type', 'gemini_batch')(json_sql)) }}
{%- endmacro %}

{% macro default___json_type(json_sql) -%}
    {#- BigQuery's JSON_TYPE: 'object', 'array', 'string', 'number', 'boolean' or 'null'; NULL for a SQL NULL.
        bqemulator runs on DuckDB, whose json_type names 'varchar', 'bigint', 'ubigint', 'double' instead of string and
        number; the CASE maps those back (BigQuery never returns them, so the mapping is a no-op there). -#}
    case lower(json_type({{ json_sql }}))
        when 'varchar' then 'string'
        when 'bigint' then 'number'
        when 'ubigint' then 'number'
        when 'hugeint' then 'number'
        when 'double' then 'number'
        else lower(json_type({{ json_sql }}))
    end
{%- endmacro %}
