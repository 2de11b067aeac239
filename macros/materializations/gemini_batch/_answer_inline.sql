{#- answer_with inline / auto (README, "dbt Cloud, Fusion and other schedulers"): the materialization answers the
    model's pending requests itself with BigQuery's AI.GENERATE, in the same dbt run, into the same m__responses
    (same request_hash, the generateContent response as `response`, status '' or the error, attempts + 1), with one
    ledger row per run (kind inline, tokens from the responses' usageMetadata) that the usage and cost models read.
    Gemini 2.0+ calls from AI.GENERATE are billed at the batch API rate (BigQuery, "Choose a text generation
    function").
    A request maps to AI.GENERATE's arguments as Google documents them
    (cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-ai-generate): the text parts of its one
    user turn are the prompt (a STRUCT of them when there are several), endpoint is the gemini_model, model_params
    the request's generationConfig (with the responseSchema request() derived from output_schema), systemInstruction
    and safetySettings in generateContent form - a JSON literal, so requests are answered in one SELECT per distinct
    set - and connection_id the inline_connection_id setting. A request AI.GENERATE cannot express (several turns,
    tools, cachedContent, a fileData or other non-text part, more than 8 parts) stays pending for a batch job, said
    once in the log. The guards max_requests_per_run and max_estimated_cost_usd stop the model first, as they stop
    the hook (the cost from request characters / 4 and maxOutputTokens, else 65,535, at the batch rate).
    answer_with auto answers inline only when at most inline_max_requests requests are pending. -#}
{% macro _answer_inline(model_relation, requests_relation, responses_relation, settings, gemini_model) %}
    {%- if not execute or settings.answer_with == 'batch' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set suffix = (invocation_id | replace('-', ''))[:12] -%}
    {%- set pending_table = model_relation.incorporate(
        path={'identifier': model_relation.identifier ~ '__gemini_batch_inline_' ~ suffix}, type='table') -%}
    {%- set answers_table = model_relation.incorporate(
        path={'identifier': model_relation.identifier ~ '__gemini_batch_inline_answers_' ~ suffix}, type='table') -%}
    {%- set max_parts = 8 -%}
    {%- call statement('gemini_batch_inline_pending') -%}
        create or replace table {{ pending_table }}
        options (expiration_timestamp = {{ gemini_batch._staging_expiration() }})
        as
        with

        pending as (
            select
                requests.request_hash,
                any_value(requests.request) as request
            from {{ requests_relation }} as requests
            left join {{ responses_relation }} as responses
                on requests.request_hash = responses.request_hash
            where
                requests.request_hash is not null
                and {{ gemini_batch._pending_condition(settings.max_attempts) }}
            group by requests.request_hash
        ),

        shaped as (
            select
                request_hash,
                request,
                array_length(json_query_array(request, '$.contents')) as turns,
                coalesce(json_value(request, '$.contents[0].role'), 'user') as role,
                array_length(json_query_array(request, '$.contents[0].parts')) as parts,
                (
                    select countif(json_value(part, '$.text') is null)
                    from unnest(json_query_array(request, '$.contents[0].parts')) as part
                ) as other_parts,
                coalesce(
                    json_query(request, '$.tools'), json_query(request, '$.toolConfig'),
                    json_query(request, '$.tool_config'), json_query(request, '$.cachedContent'),
                    json_query(request, '$.cached_content')
                ) is not null as has_tools,
                coalesce(
                    json_query(request, '$.generationConfig'), json_query(request, '$.generation_config')
                ) as generation_config,
                coalesce(
                    json_query(request, '$.systemInstruction'), json_query(request, '$.system_instruction')
                ) as system_instruction,
                coalesce(
                    json_query(request, '$.safetySettings'), json_query(request, '$.safety_settings')
                ) as safety_settings,
                coalesce(safe_cast(json_value(request, '$.generationConfig.maxOutputTokens') as int64),
                    safe_cast(json_value(request, '$.generation_config.max_output_tokens') as int64),
                    65535) as max_output_tokens
            from pending
        )

        select
            *,
            turns = 1 and role = 'user' and parts between 1 and {{ max_parts }} and other_parts = 0
            and not has_tools as expressible,
            -- json_query of a STRING is a STRING on BigQuery, a JSON on bqemulator: to_json_string reads either
            farm_fingerprint(
                to_json_string(struct(generation_config, system_instruction, safety_settings))
            ) as params_id
        from shaped
    {%- endcall -%}

    {%- set counts = run_query(
        'select count(*) as pending, countif(expressible) as expressible, countif(turns != 1) as turns, '
        ~ 'countif(has_tools) as tools, countif(other_parts > 0 or parts > ' ~ max_parts ~ ' or parts = 0) as parts '
        ~ 'from ' ~ pending_table).rows[0] -%}
    {%- set pending, expressible = counts[0] | int, counts[1] | int -%}
    {%- set skip = pending == 0 or expressible == 0
        or (settings.answer_with == 'auto' and pending > settings.inline_max_requests) -%}
    {%- if pending > expressible -%}
        {{ log('gemini_batch model ' ~ model.name ~ ': ' ~ (pending - expressible) ~ ' pending request(s) cannot be '
            ~ 'answered with AI.GENERATE (' ~ counts[2] ~ ' with several turns, ' ~ counts[3] ~ ' with tools or '
            ~ 'cachedContent, ' ~ counts[4] ~ ' with parts other than 1-' ~ max_parts ~ ' text parts): they wait for a '
            ~ 'batch job (`dbt-gemini-batch run` or `submit`)', info=true) }}
    {%- endif -%}
    {%- if settings.answer_with == 'auto' and pending > settings.inline_max_requests -%}
        {{ log('gemini_batch model ' ~ model.name ~ ': ' ~ pending ~ ' requests pending, more than '
            ~ 'inline_max_requests (' ~ settings.inline_max_requests ~ '): left for a batch job', info=true) }}
    {%- endif -%}
    {%- if not skip -%}
        {%- do gemini_batch._inline_guards(pending_table, settings, gemini_model, expressible) -%}
        {%- do gemini_batch._inline_answer(pending_table, answers_table, responses_relation, settings, gemini_model,
            max_parts) -%}
    {%- endif -%}
    {%- call statement('gemini_batch_inline_drop') -%}
        drop table if exists {{ pending_table }}
    {%- endcall -%}
    {%- call statement('gemini_batch_inline_drop_answers') -%}
        drop table if exists {{ answers_table }}
    {%- endcall -%}
{% endmacro %}

{#- The spend guards of the hook (gemini_batch/spend/guards.py) for the inline path: stop the model before any
    AI.GENERATE call when more requests than max_requests_per_run would be answered, or when their estimated cost is
    above max_estimated_cost_usd or unknown (no price for the model). -#}
{% macro _inline_guards(pending_table, settings, gemini_model, expressible) %}
    {%- if settings.max_requests_per_run is not none and expressible > settings.max_requests_per_run -%}
        {{ exceptions.raise_compiler_error('gemini_batch model ' ~ model.name ~ ': ' ~ expressible ~ ' requests would '
            ~ 'be answered inline with AI.GENERATE, more than max_requests_per_run (' ~ settings.max_requests_per_run
            ~ '); nothing was sent. Raise the limit, or select fewer rows') }}
    {%- endif -%}
    {%- if settings.max_estimated_cost_usd is not none -%}
        {%- set query -%}
            select
                count(price.gemini_model) > 0 as priced,
                sum(
                    (ceil(length(pending.request) / 4) * price.input_usd_per_1m
                        + pending.max_output_tokens * price.output_usd_per_1m)
                    * (1 - price.batch_discount)
                ) / 1000000 as cost_usd
            from {{ pending_table }} as pending
            left join unnest({{ gemini_batch.price_list() }}) as price
                on
                    price.gemini_model = '{{ gemini_batch._price_model_key(gemini_model) }}'
                    and current_date() between coalesce(price.effective_from, date '0001-01-01')
                    and coalesce(price.effective_to, date '9999-12-31')
            where pending.expressible
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- if not row[0] -%}
            {{ exceptions.raise_compiler_error('gemini_batch model ' ~ model.name ~ ': the cost of ' ~ expressible
                ~ ' inline requests on ' ~ gemini_model ~ ' is unknown (no price in the registry; var '
                ~ 'gemini_batch_prices adds one), and max_estimated_cost_usd is set; nothing was sent') }}
        {%- elif row[1] | float > settings.max_estimated_cost_usd | float -%}
            {{ exceptions.raise_compiler_error('gemini_batch model ' ~ model.name ~ ': estimated cost $'
                ~ '%.4f' | format(row[1] | float) ~ ' for ' ~ expressible ~ ' inline requests (request characters / 4 '
                ~ 'input tokens, maxOutputTokens output tokens) is above max_estimated_cost_usd ($'
                ~ settings.max_estimated_cost_usd ~ '); nothing was sent') }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}

{#- Answers the expressible pending requests with AI.GENERATE into a table of this run (one SELECT per distinct
    model_params and part count), merges them into m__responses as the hook merges a batch job's output, and writes
    the run's ledger row. -#}
{% macro _inline_answer(pending_table, answers_table, responses_relation, settings, gemini_model, max_parts) %}
    {%- set groups = run_query(
        'select params_id, parts, any_value(generation_config), any_value(system_instruction), '
        ~ 'any_value(safety_settings) from ' ~ pending_table ~ ' where expressible group by params_id, parts '
        ~ 'order by params_id, parts').rows -%}
    {%- set started = modules.datetime.datetime.utcnow().isoformat(sep=' ') -%}
    {%- set selects = [] -%}
    {%- for group in groups -%}
        {%- set params = {} -%}
        {%- for key, value in [('generationConfig', group[2]), ('systemInstruction', group[3]),
                ('safetySettings', group[4])] if value is not none -%}
            {%- do params.update({key: fromjson(value) if value is string else value}) -%}
        {%- endfor -%}
        {%- set texts = [] -%}
        {%- for i in range(group[1] | int) -%}
            {%- do texts.append("json_value(pending.request, '$.contents[0].parts[" ~ i ~ "].text')") -%}
        {%- endfor -%}
        {%- set prompt = texts[0] if texts | length == 1 else '(' ~ texts | join(', ') ~ ')' -%}
        {%- set arguments = [prompt, "endpoint => '" ~ gemini_batch._price_model_key(gemini_model) ~ "'"] -%}
        {%- if params -%}
            {%- do arguments.append('model_params => JSON ' ~ gemini_batch._json_sql_literal(tojson(params))) -%}
        {%- endif -%}
        {%- if settings.inline_connection_id -%}
            {%- do arguments.append("connection_id => '" ~ settings.inline_connection_id ~ "'") -%}
        {%- endif -%}
        {%- do selects.append(
            'select pending.request_hash, pending.request, AI.GENERATE(' ~ arguments | join(', ') ~ ') as answer'
            ~ ' from ' ~ pending_table ~ ' as pending where pending.expressible and pending.params_id = '
            ~ group[0] ~ ' and pending.parts = ' ~ group[1]) -%}
    {%- endfor -%}
    {%- set job_name = 'inline/' ~ model.unique_id ~ '/' ~ invocation_id -%}
    {%- call statement('gemini_batch_inline_answers') -%}
        create or replace table {{ answers_table }}
        options (expiration_timestamp = {{ gemini_batch._staging_expiration() }})
        as
        select
            request_hash,
            request,
            answer.full_response as response,
            case
                when coalesce(answer.status, '') != '' then answer.status
                when answer.full_response is null then 'empty response'
                else ''
            end as status,
            current_timestamp() as processed_time
        from (
            {{ selects | join('\nunion all\n') }}
        )
    {%- endcall -%}
    {%- call statement('gemini_batch_inline_merge') -%}
        merge {{ responses_relation }} as target
        using {{ answers_table }} as source
            on target.request_hash = source.request_hash
        -- as the hook merges a job's output: never overwrite a success, count an attempt
        when matched and (target.status is null or target.status != '') then update set
            response = source.response,
            status = source.status,
            processed_time = source.processed_time,
            job_name = '{{ job_name }}',
            attempts = coalesce(target.attempts, 0) + 1,
            updated_at = current_timestamp()
        when not matched then insert
            (request_hash, request, response, status, processed_time, job_name, attempts, updated_at)
            values (source.request_hash, source.request, source.response, source.status,
                source.processed_time, '{{ job_name }}', 1, current_timestamp())
    {%- endcall -%}
    {%- set ledger = gemini_batch._ledger_relation() -%}
    {%- set cache = responses_relation.database ~ '.' ~ responses_relation.schema ~ '.' ~ responses_relation.identifier -%}
    {#- The run's counts and tokens are read here, in the model's location, and written to the ledger as values: a
        ledger in another dataset (location) is never read together with the model's tables in one query. -#}
    {%- set fields = ['promptTokenCount', 'candidatesTokenCount', 'thoughtsTokenCount', 'cachedContentTokenCount',
        'totalTokenCount'] -%}
    {%- set sums = [] -%}
    {%- for field in fields -%}
        {%- do sums.append("coalesce(sum(safe_cast(json_value(response, '$.usageMetadata." ~ field
            ~ "') as int64)), 0)") -%}
    {%- endfor -%}
    {%- set done = run_query('select count(*), countif(status = \'\'), countif(status != \'\'), '
        ~ sums | join(', ') ~ ' from ' ~ answers_table).rows[0] -%}
    {%- call statement('gemini_batch_inline_ledger') -%}
        insert into {{ ledger }} (
            job_name, display_name, dbt_node, responses_table, gemini_model, vertex_project, vertex_location,
            input_table, state, request_count, succeeded_count, failed_count, prompt_tokens, output_tokens,
            thoughts_tokens, cached_tokens, total_tokens, missing_count, mismatched_count, invocation_id,
            submitted_at, finished_at, collected_at, updated_at, kind
        )
        values (
            '{{ job_name }}',
            'dbt-gemini-batch {{ model.name }} inline',
            '{{ model.unique_id }}',
            '{{ cache }}',
            '{{ gemini_model }}',
            '{{ target.project }}',
            {{ "'" ~ target.location ~ "'" if target.location else 'cast(null as string)' }},
            '{{ answers_table.database }}.{{ answers_table.schema }}.{{ answers_table.identifier }}',
            'JOB_STATE_SUCCEEDED',
            {{ done | map('int') | join(', ') }},
            0,
            0,
            '{{ invocation_id }}',
            timestamp '{{ started }}',
            current_timestamp(),
            current_timestamp(),
            current_timestamp(),
            'inline'
        )
    {%- endcall -%}
    {{ log('gemini_batch model ' ~ model.name ~ ': answered ' ~ done[1] ~ ' request(s) inline with AI.GENERATE ('
        ~ done[2] ~ ' failed, sent again next run until max_attempts)', info=true) }}
{% endmacro %}
