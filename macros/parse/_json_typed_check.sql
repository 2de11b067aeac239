{% macro _json_typed_check(json_sql, json_path, field, depth=0) -%}
    {#- BOOL SQL: TRUE when the value at json_path matches the field of an output_schema: present unless the field is
        not required, JSON null only when it is nullable, of the declared JSON type (string/number/boolean/array/
        object), castable to the column type (an INT64 is an integer, a DATE a date), inside the enum (each item's, for an ARRAY<STRING>), and, for arrays
        and objects, with every element/field valid in turn. Never NULL. A valid value is exactly one that
        _json_typed_value extracts as non-NULL, so a row whose state is answered has every required column filled. -#}
    {%- set tree = field['type'] -%}
    {%- set kind = tree['type'] -%}
    {%- set path_sql = gemini_batch._json_sql_literal(json_path) -%}
    {%- set node = 'json_query(' ~ json_sql ~ ', ' ~ path_sql ~ ')' -%}
    {%- set node_type = gemini_batch._json_type(node) -%}
    {%- set json_types = {
        'STRING': 'string', 'INT64': 'number', 'FLOAT64': 'number', 'NUMERIC': 'number', 'BIGNUMERIC': 'number',
        'BOOL': 'boolean', 'DATE': 'string', 'TIMESTAMP': 'string', 'DATETIME': 'string',
        'ARRAY': 'array', 'STRUCT': 'object',
    } -%}
    {%- set checks = [] -%}
    {%- if kind in json_types -%}
        {%- do checks.append(node_type ~ " = '" ~ json_types[kind] ~ "'") -%}
    {%- endif -%}
    {%- if kind not in ('STRING', 'JSON', 'ARRAY', 'STRUCT', 'BOOL') -%}
        {%- do checks.append(gemini_batch._json_typed_value(json_sql, json_path, tree, depth) ~ ' is not null') -%}
    {%- endif -%}
    {%- if field.get('enum') and kind != 'ARRAY' -%}
        {%- set literals = [] -%}
        {%- for value in field['enum'] -%}
            {%- do literals.append(gemini_batch._json_sql_literal(value | string)) -%}
        {%- endfor -%}
        {%- do checks.append('json_value(' ~ json_sql ~ ', ' ~ path_sql ~ ') in (' ~ literals | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- if kind == 'ARRAY' -%}
        {%- set item = 'gemini_batch_check_' ~ depth -%}
        {%- set item_check = gemini_batch._json_typed_check(item, '$', {'type': tree['items'], 'required': true, 'nullable': false, 'enum': field.get('enum')}, depth + 1) -%}
        {%- do checks.append('not exists(select 1 from unnest(json_query_array(' ~ json_sql ~ ', ' ~ path_sql ~ ')) as ' ~ item ~ ' where not ' ~ item_check ~ ')') -%}
    {%- elif kind == 'STRUCT' -%}
        {%- for child in tree['fields'] -%}
            {%- do checks.append(gemini_batch._json_typed_check(json_sql, json_path ~ '.' ~ child['name'], child, depth)) -%}
        {%- endfor -%}
    {%- endif -%}
    coalesce(
        case
            when {{ node }} is null then {{ 'false' if field.get('required', true) else 'true' }}
            when {{ node_type }} = 'null' then {{ 'true' if field.get('nullable', false) else 'false' }}
            else {{ (checks | join('\n                and ')) if checks else 'true' }}
        end,
        false
    )
{%- endmacro %}
