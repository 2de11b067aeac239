{#- The model's own relation: every request row with its answer, if any, and what became of it.
    Columns after the model's own: response, status ('' answered, error text, NULL pending), processed_time,
    job_name, attempts, updated_at; one typed column per field of the output schema (the model's output_schema
    setting, or the one responseSchema all its requests share), NULL where the answer lacks it or it does not fit;
    output_state (pending, answered, failed, blocked, truncated, invalid_output: _answer_state), output_error (why a
    row is not answered), given_up (no usable answer and never sent again: max_attempts reached, read from the
    setting when the model was built); previous_response and previous_answered_at (the last answer of the row's key
    under an earlier request, _answer_history.sql), when the materialization passes history_relation, and with an
    output schema one typed previous_<field> column per field, read from previous_response. With a cascade
    (escalations_relation, _escalation.sql): a row the hook escalated shows the second model's answer once it has a
    successful one, and answered_by names the Gemini model whose answer the row shows.
    The answer is parsed once per row (parsed_response), and its helper columns are not exposed, so a downstream
    model can call parsed_response() on this view again. -#}
{% macro _joined_view_sql(requests_relation, responses_relation, output_schema=none, settings=none, history_relation=none, key_columns=none, escalations_relation=none) %}
    {%- set max_attempts = (settings or {}).get('max_attempts', 3) -%}
    {%- set retry_unusable = (settings or {}).get('retry_unusable_answers', true) -%}
    {%- set typed_columns = '' -%}
    {%- if output_schema is not none -%}
        {#- The last good answer typed too: previous_<field>, read from previous_response as the fields are read
            from response (NULL where there is no previous answer). -#}
        {%- set typed_columns = gemini_batch.output_schema_columns(output_schema) ~ ',\n'
            ~ gemini_batch.output_schema_columns(output_schema, 'gemini_batch_previous_output', 'previous_') ~ ',' -%}
    {%- endif -%}
    {#- Without key columns (a model of only `request`) no row is "the same row" across requests. -#}
    {%- set previous_columns = 'cast(null as json) as previous_response, cast(null as timestamp) as previous_answered_at' -%}
    {%- set previous_join = '' -%}
    {%- set history_relation = history_relation if key_columns else none -%}
    {%- if history_relation is not none -%}
        {%- set previous_columns = 'previous.previous_response, previous.previous_answered_at' -%}
        {%- set previous_join = 'left join gemini_batch_previous as previous on '
            ~ gemini_batch._row_key_sql('requests', key_columns)
            ~ ' = previous.row_key and requests.request_hash = previous.request_hash' -%}
    {%- endif -%}
    {%- set answers_from = 'gemini_batch_joined' -%}
    {%- set helper_columns = 'gemini_batch_output_text, gemini_batch_output, output_state' -%}
    {%- if output_schema is not none -%}
        {%- set answers_from = 'gemini_batch_previous_parsed' -%}
        {%- set helper_columns = helper_columns ~ ', gemini_batch_previous_text, gemini_batch_previous_output' -%}
    {%- endif -%}
    {#- A cascade: the escalated rows whose second answer succeeded take that answer (gemini_batch_escalated). -#}
    {%- set answered_by_column, escalated_join, answer_hash = '', '', 'requests.request_hash' -%}
    {%- if escalations_relation is not none -%}
        {%- set answered_by_column = 'case when escalated.request_hash is not null then '
            ~ gemini_batch._sql_string(settings.escalate_to) ~ " when responses.status = '' then "
            ~ gemini_batch._sql_string(settings.gemini_model) ~ ' end as answered_by,' -%}
        {%- set escalated_join = 'left join gemini_batch_escalated as escalated on requests.request_hash = '
            ~ 'escalated.request_hash and requests.escalation_hash = escalated.escalation_hash' -%}
        {%- set answer_hash = 'coalesce(escalated.escalation_hash, requests.request_hash)' -%}
    {%- endif -%}
    {%- set retried_states = "'failed', 'truncated', 'invalid_output'" if retry_unusable else "'failed'" -%}
    with

    {% if history_relation is not none -%}
    {#- Last good answer: per (key, current request hash), the latest answer recorded for the key under another
        request hash (_answer_history.sql). -#}
    gemini_batch_keyed as (
        select distinct
            {{ gemini_batch._row_key_sql('requests', key_columns) }} as row_key,
            requests.request_hash
        from {{ requests_relation }} as requests
    ),

    gemini_batch_previous as (
        select
            keyed.row_key,
            keyed.request_hash,
            responses.response as previous_response,
            coalesce(responses.processed_time, responses.updated_at) as previous_answered_at
        from gemini_batch_keyed as keyed
        inner join {{ history_relation }} as history
            on keyed.row_key = history.row_key and keyed.request_hash != history.request_hash
        inner join {{ responses_relation }} as responses
            on history.request_hash = responses.request_hash and responses.status = ''
        -- BigQuery has required a WHERE, GROUP BY or HAVING next to QUALIFY.
        where true
        qualify row_number() over (
            partition by keyed.row_key, keyed.request_hash
            order by coalesce(responses.processed_time, responses.updated_at) desc
        ) = 1
    ),

    {% endif -%}
    {% if escalations_relation is not none -%}
    {#- Escalated rows whose second answer succeeded: the row shows that answer (a failed or pending second answer
        leaves the first one in place). -#}
    gemini_batch_escalated as (
        select escalations.request_hash, escalations.escalation_hash
        from {{ escalations_relation }} as escalations
        inner join {{ responses_relation }} as second_answers
            on escalations.escalation_hash = second_answers.request_hash and second_answers.status = ''
    ),

    {% endif -%}
    gemini_batch_joined as (
        select
            requests.* except ({{ gemini_batch._package_columns() | join(', ') }}),
            responses.response,
            responses.status,
            responses.processed_time,
            responses.job_name,
            responses.attempts,
            responses.updated_at,
            {{ answered_by_column }}{{ previous_columns }}
        from {{ requests_relation }} as requests {{ escalated_join }}
        left join {{ responses_relation }} as responses
            on {{ answer_hash }} = responses.request_hash
        {{ previous_join }}
    ),

    {% if output_schema is not none -%}
    {#- previous_response parsed once per row, as parsed_response() parses response (the same two levels), for the
        typed previous_<field> columns. -#}
    gemini_batch_previous_texts as (
        select
            *,
            {{ gemini_batch._json_output_text('previous_response') }} as gemini_batch_previous_text
        from gemini_batch_joined
    ),

    gemini_batch_previous_parsed as (
        select
            *,
            safe.parse_json(gemini_batch_previous_text, wide_number_mode => 'round') as gemini_batch_previous_output
        from gemini_batch_previous_texts
    ),

    {% endif -%}
    gemini_batch_answers as (
        {{ gemini_batch.parsed_response(answers_from) }}
    ),

    gemini_batch_states as (
        select
            *,
            {{ gemini_batch._answer_state(output_schema) }} as output_state
        from gemini_batch_answers
    )

    select
        * except ({{ helper_columns }}),
        {{ typed_columns }}
        output_state,
        {{ gemini_batch._answer_error('output_state') }} as output_error,
        coalesce(
            output_state in ({{ retried_states }})
            and attempts >= {{ max_attempts }},
            false
        ) as given_up
    from gemini_batch_states
{% endmacro %}

{#- The response schema all of a model's requests share (generationConfig.responseSchema, as request(response_schema=
    ...) writes it), so a model that gives its schema to request() gets the same typed columns as one with the
    output_schema setting. none when the requests carry none, or several different ones. Reads the sparse column
    gemini_batch_response_schema (_create_requests_table.sql: a few hundred non-NULL values, whatever the rows), not
    the request column, which on-demand BigQuery would bill in full at every build ('' there: a request without one). -#}
{% macro _shared_response_schema(requests_relation) %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set column = gemini_batch._response_schema_column() -%}
    {%- set query -%}
        select distinct {{ column }} as response_schema
        from {{ requests_relation }}
        where {{ column }} is not null
        limit 2
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- if rows | length != 1 or rows[0][0] is none or rows[0][0] == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set schema = fromjson(rows[0][0]) -%}
    {%- if schema is not mapping or (schema.get('type') | string | upper) != 'OBJECT' or schema.get('properties') is not mapping -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(schema) }}
{% endmacro %}

{#- The typed columns join the model's own columns in its view: a field named like one of them, or like a column
    the package adds, would clash. Stops the model naming both. -#}
{% macro _check_output_columns(requests_relation, output_schema) %}
    {%- if output_schema is not none -%}
        {%- set taken = adapter.get_columns_in_relation(requests_relation) | map(attribute='name') | map('lower') | list
            + gemini_batch._view_columns() -%}
        {%- for field in gemini_batch.output_schema_fields(output_schema) if field['name'] | lower in taken -%}
            {{ exceptions.raise_compiler_error('gemini_batch model ' ~ model.name ~ ': the output schema field `'
                ~ field['name'] ~ "` has the name of a column of the model's view; rename the field or the column") }}
        {%- endfor -%}
        {#- ... and so would its last good answer's column, previous_<field>. -#}
        {%- for field in gemini_batch.output_schema_fields(output_schema)
              if ('previous_' ~ field['name']) | lower in taken -%}
            {{ exceptions.raise_compiler_error('gemini_batch model ' ~ model.name ~ ': the column `previous_'
                ~ field['name'] ~ '` of the output schema field `' ~ field['name'] ~ "` (its last good answer) has the "
                ~ "name of a column of the model's view; rename the field or the column") }}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}

{#- Columns the package adds to every gemini_batch view (a model's own columns must not use these names). -#}
{% macro _view_columns() %}
    {{ return(['request_hash', 'response', 'status', 'processed_time', 'job_name', 'attempts', 'updated_at',
        'output_state', 'output_error', 'given_up', 'previous_response', 'previous_answered_at', 'answered_by',
        'escalation_hash']) }}
{% endmacro %}
