{% macro _schema_parse_type(tokens, cursor, context) -%}
    {#- Recursive-descent parser of one BigQuery type starting at tokens[cursor.position]; advances the cursor.
        Returns {'type': canonical name} for a scalar, {'type': 'ARRAY', 'items': type} or
        {'type': 'STRUCT', 'fields': [field, ...]}. Every spelling BigQuery accepts maps to one canonical name
        (INTEGER/INT/SMALLINT/BIGINT/TINYINT/BYTEINT -> INT64, FLOAT -> FLOAT64, BOOLEAN -> BOOL, DECIMAL -> NUMERIC,
        BIGDECIMAL -> BIGNUMERIC); parameters such as STRING(10) or NUMERIC(10, 2) are accepted and ignored. -#}
    {%- set aliases = {
        'STRING': 'STRING',
        'INT64': 'INT64', 'INTEGER': 'INT64', 'INT': 'INT64', 'SMALLINT': 'INT64', 'BIGINT': 'INT64',
        'TINYINT': 'INT64', 'BYTEINT': 'INT64',
        'FLOAT64': 'FLOAT64', 'FLOAT': 'FLOAT64',
        'BOOL': 'BOOL', 'BOOLEAN': 'BOOL',
        'NUMERIC': 'NUMERIC', 'DECIMAL': 'NUMERIC', 'BIGNUMERIC': 'BIGNUMERIC', 'BIGDECIMAL': 'BIGNUMERIC',
        'DATE': 'DATE', 'TIMESTAMP': 'TIMESTAMP', 'DATETIME': 'DATETIME', 'JSON': 'JSON',
    } -%}
    {%- if cursor.position >= tokens | length -%}
        {{- exceptions.raise_compiler_error(context ~ ": a type is missing at the end of '" ~ tokens | join(' ') ~ "'") -}}
    {%- endif -%}
    {%- set word = tokens[cursor.position] | upper -%}
    {%- set cursor.position = cursor.position + 1 -%}
    {%- if word == 'ARRAY' -%}
        {%- do gemini_batch._schema_expect(tokens, cursor, '<', context) -%}
        {%- set result = {'type': 'ARRAY', 'items': gemini_batch._schema_parse_type(tokens, cursor, context)} -%}
    {%- elif word == 'STRUCT' -%}
        {%- do gemini_batch._schema_expect(tokens, cursor, '<', context) -%}
        {%- set result = {'type': 'STRUCT', 'fields': gemini_batch._schema_parse_fields(tokens, cursor, context, '>')} -%}
    {%- endif -%}
    {%- if word == 'ARRAY' and result['items']['type'] == 'ARRAY' -%}
        {{- exceptions.raise_compiler_error(context ~ ": ARRAY<ARRAY<...>> is not a BigQuery type; wrap the inner array in a STRUCT") -}}
    {%- endif -%}
    {%- if word in ('ARRAY', 'STRUCT') -%}
        {%- do gemini_batch._schema_expect(tokens, cursor, '>', context) -%}
        {{- return(result) -}}
    {%- endif -%}
    {%- if word not in aliases -%}
        {{- exceptions.raise_compiler_error(context ~ ": unknown type '" ~ tokens[cursor.position - 1] ~ "'; use one of " ~ (aliases.keys() | list | join(', ')) ~ ", ARRAY<type>, STRUCT<name type, ...>") -}}
    {%- endif -%}
    {%- if cursor.position < tokens | length and tokens[cursor.position] == '(' -%}
        {#- Type parameters (STRING(10), NUMERIC(10, 2)) constrain storage, not the answer: skip them. -#}
        {%- set rest = tokens[cursor.position:] -%}
        {%- if ')' not in rest -%}
            {{- exceptions.raise_compiler_error(context ~ ": unclosed ( after type " ~ word) -}}
        {%- endif -%}
        {%- set cursor.position = cursor.position + rest.index(')') + 1 -%}
    {%- endif -%}
    {{- return({'type': aliases[word]}) -}}
{%- endmacro %}
