{% macro _json_typed_value(json_sql, json_path, type_tree, depth=0) -%}
    {#- SQL for the value at json_path of the JSON expression json_sql as the BigQuery type of type_tree; NULL, never an
        error, where the value is missing or does not fit. Scalars: JSON_VALUE (a string, number or boolean as text)
        then SAFE_CAST, so "7" fits INT64 and 3.5 does not. JSON: JSON_QUERY. ARRAY: the elements that fit, in order
        (a BigQuery array cannot hold NULL). STRUCT: NULL unless the value is an object, else its fields by name.
        `depth` keeps the aliases of nested UNNESTs apart. -#}
    {%- set kind = type_tree['type'] -%}
    {%- set path_sql = gemini_batch._json_sql_literal(json_path) -%}
    {%- set value = 'json_value(' ~ json_sql ~ ', ' ~ path_sql ~ ')' -%}
    {%- set node = 'json_query(' ~ json_sql ~ ', ' ~ path_sql ~ ')' -%}
    {%- set item = 'gemini_batch_item_' ~ depth -%}
    {%- if kind == 'ARRAY' -%}
        {%- set item_value = gemini_batch._json_typed_value(item, '$', type_tree['items'], depth + 1) -%}
        {{- return('array(select ' ~ item_value ~ ' from unnest(json_query_array(' ~ json_sql ~ ', ' ~ path_sql ~ ')) as '
            ~ item ~ ' with offset as ' ~ item ~ '_index where ' ~ item_value ~ ' is not null order by ' ~ item ~ '_index)') -}}
    {%- endif -%}
    {%- set members = [] -%}
    {%- for field in type_tree.get('fields', []) -%}
        {%- do members.append(gemini_batch._json_typed_value(json_sql, json_path ~ '.' ~ field['name'], field['type'], depth) ~ ' as ' ~ field['name']) -%}
    {%- endfor -%}
    {%- set by_kind = {
        'STRING': value,
        'JSON': node,
        'STRUCT': 'case when ' ~ gemini_batch._json_type(node) ~ " = 'object' then struct(" ~ members | join(', ') ~ ') end',
        'INT64': 'safe_cast(if(regexp_contains(' ~ value ~ ", r'^[+-]?[0-9]+$'), " ~ value ~ ', null) as int64)',
        'BOOL': 'safe_cast(if(lower(' ~ value ~ ") in ('true', 'false'), " ~ value ~ ', null) as bool)',
    } -%}
    {#- INT64 takes integers only: BigQuery's SAFE_CAST('2.5' AS INT64) is NULL, but DuckDB (bqemulator) rounds it to 3.
        BOOL takes true/false only: BigQuery's SAFE_CAST('1' AS BOOL) is NULL, DuckDB's is TRUE. The guards make both
        engines agree with BigQuery. -#}
    {{- return(by_kind.get(kind, 'safe_cast(' ~ value ~ ' as ' ~ kind | lower ~ ')')) -}}
{%- endmacro %}
