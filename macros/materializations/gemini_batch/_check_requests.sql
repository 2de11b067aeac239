{#- Pre-submission check of the rows of the new m__requests that would be sent. Vertex accepts a job whatever its
    rows hold and fails bad rows one by one hours later (or the whole import), so broken rows are stopped here with
    their keys and the reason. Rows whose hash m__responses already answered successfully are never sent again, so
    they are not checked: an unchanged re-run does no JSON work (counts: _count_staged, which says so). Without an
    answer cache (responses_relation none) every row is checked. Returns the error message, or none. -#}
{% macro _check_requests(staged_table, responses_relation, counts=none) %}
    {%- set sample_size = 5 -%}
    {#- _gemini_batch_parsed: canonical JSON text, or NULL when the request is not JSON. The checks read STRING, whose
        JSON functions return STRING on BigQuery and bqemulator alike. wide_number_mode 'round': Vertex reads a
        number that has no exact double (e.g. 0.1000000000000000055511) as the nearest one; BigQuery's default
        'exact' mode would reject it, and SAFE. would turn that into "not valid JSON". -#}
    {%- set query -%}
        with candidates as (
            select staged.*
            from {{ staged_table }} as staged
            -- never answered, failed, given up (gemini_batch_state, _create_requests_table): a constant filter on
            -- the clustering column, so BigQuery reads the requests of these rows only
            where staged.{{ gemini_batch._state_column() }} >= {{ gemini_batch._state_codes().never_answered }}
        ),

        parsed as (
            select
                *,
                to_json_string(safe.parse_json(request, wide_number_mode => 'round')) as _gemini_batch_parsed
            from candidates
        ),

        listed as (
            select
                *,
                {{ gemini_batch._json_list('_gemini_batch_parsed', '$.contents') }} as _gemini_batch_contents
            from parsed
        ),

        checked as (
            select
                * except (_gemini_batch_parsed, _gemini_batch_contents),
                {{ gemini_batch._request_problem('request', '_gemini_batch_parsed', '_gemini_batch_contents') }}
                    as _gemini_batch_problem
            from listed
        )

        select
            count(*) over () as _gemini_batch_bad_rows,
            checked.* except (request, {{ gemini_batch._package_columns() | join(', ') }})
        from checked
        where _gemini_batch_problem is not null
        limit {{ sample_size }}
    {%- endset -%}
    {#- Nothing to send, nothing to check: `counts` (_count_staged) says how many hashes have no successful answer
        (pending + given up); the check itself, which reads every column of the candidates, runs only when some row
        would be sent. -#}
    {%- if responses_relation is not none and counts is not none and counts.pending + counts.given_up == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set result = run_query(query) -%}
    {%- if result.rows | length > 0 -%}
        {%- set lines = [] -%}
        {%- set columns = result.column_names[1:] | reject('equalto', '_gemini_batch_problem') | list -%}
        {#- The model's own key columns name the row; request_hash only when the model selects nothing else. -#}
        {%- set key_names = (columns | reject('equalto', 'request_hash') | list) or columns -%}
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
    read `parsed`, the request as canonical JSON text (NULL when malformed), so malformed text never raises in them.
    What Vertex accepts (API reference, GenerateContentRequest and Content): `role` is optional ("can be left blank or
    unset"); fields may be camelCase or the proto's snake_case (proto JSON), so cached_content is cachedContent too;
    batch reads only gs:// and public YouTube URIs in fileData ("Only public YouTube or Cloud Storage URIs are
    supported in the fileData or file_data field", GoogleCloudPlatform/generative-ai
    gemini/batch-prediction/intro_batch_prediction.ipynb); an empty text part is refused per row; systemInstruction
    is a Content (the SDKs wrap a bare string, the API's proto JSON refuses one). -#}
{% macro _request_problem(request_text, parsed, contents=none) %}
    {#- contents: a column already holding _json_list(parsed, '$.contents'), so that the list is parsed out of the
        request once per row rather than once per check (bqemulator evaluates every CASE branch). -#}
    {%- set contents = contents or gemini_batch._json_list(parsed, '$.contents') -%}
    {%- set parts -%}
        unnest({{ contents }}) as content,
        unnest({{ gemini_batch._json_list('content', '$.parts') }}) as part
    {%- endset -%}
    case
        when {{ request_text }} is null
            then 'request is NULL (is the prompt or a file URI NULL?)'
        when byte_length({{ request_text }}) > {{ gemini_batch._max_request_bytes() }}
            then concat(
                'request is ', cast(byte_length({{ request_text }}) as string), ' bytes, more than the ',
                '{{ gemini_batch._max_request_bytes() }} bytes (20 MB) Gemini accepts in one request: put large ',
                'files in Cloud Storage and reference them with fileData, or shorten the prompt'
            )
        when {{ parsed }} is null
            then 'request is not valid JSON'
        when json_query({{ parsed }}, '$.contents') is null
            then 'request has no `contents`'
        when coalesce(array_length({{ contents }}), 0) = 0
            then '`contents` is empty or not a list'
        when exists (
            select 1
            from unnest({{ contents }}) as content
            where coalesce(nullif(json_value(content, '$.role'), ''), 'user') not in ('user', 'model')
        )
            then 'a `contents` entry has a role other than user or model'
        when exists (
            select 1
            from unnest({{ contents }}) as content
            where coalesce(array_length({{ gemini_batch._json_list('content', '$.parts') }}), 0) = 0
        )
            then 'a `contents` entry has no parts'
        when exists (
            select 1
            from {{ parts }}
            where json_value(part, '$.text') = ''
        )
            then 'a text part is empty (is the prompt an empty string?)'
        when exists (
            select 1
            from {{ parts }}
            where not regexp_contains(
                coalesce(json_value(part, '$.fileData.fileUri'), json_value(part, '$.file_data.file_uri'), 'gs://'),
                r'^(gs://|https://(www\.|m\.)?youtube\.com/|https://youtu\.be/)'
            )
        )
            then 'a fileData URI is neither gs:// nor a public YouTube URL (batch jobs read only those)'
        when json_query({{ parsed }}, '$.cachedContent') is not null or json_query({{ parsed }}, '$.cached_content') is not null
            then '`cachedContent` is not supported by batch prediction'
        when not starts_with(
            coalesce(json_query({{ parsed }}, '$.systemInstruction'), json_query({{ parsed }}, '$.system_instruction'), '{}'),
            '{'
        )
            then '`systemInstruction` is not a Content object (write {"parts": [{"text": "..."}]}, not a bare string)'
    end
{% endmacro %}

{#- The largest request Vertex is sent, in bytes of its JSON text: Gemini's total request size limit is 20 MB
    (Gemini API batch: "inline requests up to 20 MB"; Vertex AI's Gemini pages: inline data counts toward a 20 MB
    request, larger files go through Cloud Storage). Read as 20,000,000 bytes, the stricter of 20 MB and 20 MiB
    (20,971,520, the limit Google's API errors name), so a row that passes here is accepted under either reading.
    BigQuery's own limit on a row (100 MB) is larger. A larger request would fail at Vertex after the job was paid. -#}
{% macro _max_request_bytes() %}20000000{% endmacro %}

{#- JSON_QUERY_ARRAY of a path in JSON text, NULL unless the value there is a list. BigQuery returns NULL for a
    non-list anyway; bqemulator (DuckDB) raises, and it evaluates every CASE branch, so the guard is needed there. -#}
{% macro _json_list(json_text, path) %}
    json_query_array(if(starts_with(json_query({{ json_text }}, '{{ path }}'), '['), {{ json_text }}, null), '{{ path }}')
{%- endmacro %}
