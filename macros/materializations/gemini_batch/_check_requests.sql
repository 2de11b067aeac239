{#- Pre-submission check of every row of m__requests. Vertex accepts a job whatever its rows hold and fails bad rows
    one by one hours later (or the whole import), so broken rows are stopped here with their keys and the reason. -#}
{#- Returns the error message, or none when every row is fine. -#}
{% macro _check_requests(staged_relation, request_text) %}
    {%- set sample_size = 5 -%}
    {#- _gemini_batch_parsed: canonical JSON text, or NULL when the request is not JSON. The checks read STRING, whose
        JSON functions return STRING on BigQuery and bqemulator alike. -#}
    {%- set query -%}
        with parsed as (
            select
                *,
                to_json_string(safe.parse_json({{ request_text }})) as _gemini_batch_parsed
            from {{ staged_relation }}
        ),

        checked as (
            select
                * except (_gemini_batch_parsed),
                {{ gemini_batch._request_problem(request_text, '_gemini_batch_parsed') }} as _gemini_batch_problem
            from parsed
        )

        select
            count(*) over () as _gemini_batch_bad_rows,
            checked.* except (request)
        from checked
        where _gemini_batch_problem is not null
        limit {{ sample_size }}
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {%- if result.rows | length > 0 -%}
        {%- set lines = [] -%}
        {%- set key_names = result.column_names[1:] | reject('equalto', '_gemini_batch_problem') | list -%}
        {%- for row in result.rows -%}
            {%- set keys = [] -%}
            {%- for name in key_names[:4] -%}
                {%- do keys.append(name ~ '=' ~ (row[name] | string | truncate(40, true, '...'))) -%}
            {%- endfor -%}
            {%- do lines.append('  - ' ~ keys | join(', ') ~ ': ' ~ row['_gemini_batch_problem']) -%}
        {%- endfor -%}
        {{ return("gemini_batch model " ~ model.name ~ ": " ~ result.rows[0]['_gemini_batch_bad_rows']
            ~ " row(s) have a request that Vertex would reject; nothing was submitted. First rows:\n"
            ~ lines | join('\n')
            ~ "\nFix the model's SQL (or filter these rows out) and run again.") }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}

{#- A SQL expression: NULL when the request is a usable GenerateContentRequest, else why not. The structural checks
    read `parsed`, the request as canonical JSON text (NULL when malformed), so malformed text never raises in them. -#}
{% macro _request_problem(request_text, parsed) %}
    case
        when {{ request_text }} is null
            then 'request is NULL (is the prompt or a file URI NULL?)'
        when {{ parsed }} is null
            then 'request is not valid JSON'
        when json_query({{ parsed }}, '$.contents') is null
            then 'request has no `contents`'
        when coalesce(array_length({{ gemini_batch._json_list(parsed, '$.contents') }}), 0) = 0
            then '`contents` is empty or not a list'
        when exists (
            select 1
            from unnest({{ gemini_batch._json_list(parsed, '$.contents') }}) as content
            where coalesce(json_value(content, '$.role'), '') not in ('user', 'model')
        )
            then 'a `contents` entry has a role other than user or model'
        when exists (
            select 1
            from unnest({{ gemini_batch._json_list(parsed, '$.contents') }}) as content
            where coalesce(array_length({{ gemini_batch._json_list('content', '$.parts') }}), 0) = 0
        )
            then 'a `contents` entry has no parts'
        when json_query({{ parsed }}, '$.cachedContent') is not null
            then '`cachedContent` is not supported by batch prediction'
    end
{% endmacro %}

{#- JSON_QUERY_ARRAY of a path in JSON text, NULL unless the value there is a list. BigQuery returns NULL for a
    non-list anyway; bqemulator (DuckDB) raises, and it evaluates every CASE branch, so the guard is needed there. -#}
{% macro _json_list(json_text, path) %}
    json_query_array(if(starts_with(json_query({{ json_text }}, '{{ path }}'), '['), {{ json_text }}, null), '{{ path }}')
{%- endmacro %}
