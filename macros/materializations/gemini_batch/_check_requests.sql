{#- Pre-submission check of every row of m__requests. Vertex accepts a job whatever its rows hold and fails bad rows
    one by one hours later (or the whole import), so broken rows are stopped here with their keys and the reason. -#}
{#- Returns the error message, or none when every row is fine. -#}
{% macro _check_requests(staged_relation, request_text) %}
    {%- set sample_size = 5 -%}
    {%- set query -%}
        with parsed as (
            select
                *,
                safe.parse_json({{ request_text }}) as _gemini_batch_parsed
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
    read the parsed JSON (`parsed`, from SAFE.PARSE_JSON) so malformed text can never raise inside them. -#}
{% macro _request_problem(request_text, parsed) %}
    case
        when {{ request_text }} is null
            then 'request is NULL (is the prompt or a file URI NULL?)'
        when {{ parsed }} is null
            then 'request is not valid JSON'
        when json_query({{ parsed }}, '$.contents') is null
            then 'request has no `contents`'
        when array_length(json_query_array({{ parsed }}, '$.contents')) = 0
            then 'request has an empty `contents` list'
        when exists (
            select 1
            from unnest(json_query_array({{ parsed }}, '$.contents')) as content
            where coalesce(json_value(content, '$.role'), '') not in ('user', 'model')
        )
            then 'a `contents` entry has a role other than user or model'
        when exists (
            select 1
            from unnest(json_query_array({{ parsed }}, '$.contents')) as content
            where array_length(json_query_array(content, '$.parts')) = 0
                or json_query(content, '$.parts') is null
        )
            then 'a `contents` entry has no parts'
        when json_query({{ parsed }}, '$.cachedContent') is not null
            then '`cachedContent` is not supported by batch prediction'
    end
{% endmacro %}
