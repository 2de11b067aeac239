{#- What became of a row, as the model's view and the re-send rule read it: ONE expression for both (the view's
    `output_state` column, and the materialization's marking of unusable answers, _mark_unusable_answers).
    gemini_batch.output_state() judges the answer (pending, failed, blocked, truncated, invalid_output, answered);
    a status the package wrote itself ('unusable answer: truncated' / '...: invalid_output', see
    _mark_unusable_answers) keeps the state it was given rather than reading as a Vertex failure. Without an
    output_schema, text that is not JSON is invalid only when the request asked for JSON (responseMimeType
    application/json, in proto JSON's camelCase or snake_case): a plain-text answer is an answer.
    Reads the columns parsed_response() adds (gemini_batch_output). -#}
{% macro _answer_state(output_schema, request='request', status='status', response='response') %}
    {%- set expect_json -%}
        coalesce(
            json_value({{ request }}, '$.generationConfig.responseMimeType'),
            json_value({{ request }}, '$.generation_config.response_mime_type')
        ) = 'application/json'
    {%- endset -%}
    case
        when starts_with({{ status }}, '{{ gemini_batch._unusable_status_prefix() }}')
            then substr({{ status }}, {{ gemini_batch._unusable_status_prefix() | length + 1 }})
        else {{ gemini_batch.output_state(output_schema, status, response, expect_json=expect_json) }}
    end
{%- endmacro %}

{#- The status the package writes over Vertex's '' when an answer is unusable, followed by the state. -#}
{% macro _unusable_status_prefix() %}
    {{- return('unusable answer: ') -}}
{% endmacro %}

{#- Why a row is not answered, for the view's `output_error`: Vertex's error of a failed row, the block reason, the
    token counts of a truncated answer (thinking tokens count against maxOutputTokens on Gemini 2.5: README
    "Thinking budget"), or what is wrong with an invalid output. NULL for pending and answered rows. -#}
{% macro _answer_error(state, status='status', response='response') %}
    case {{ state }}
        when 'failed' then {{ gemini_batch.error_message(status, response) }}
        when 'blocked' then concat('blocked: ', {{ gemini_batch.block_reason(response) }})
        when 'truncated' then concat(
            'truncated at maxOutputTokens (MAX_TOKENS): ',
            coalesce(cast({{ gemini_batch.token_count('candidates', response) }} as string), '?'), ' answer tokens, ',
            coalesce(cast({{ gemini_batch.token_count('thoughts', response) }} as string), '?'), ' thinking tokens'
        )
        when 'invalid_output' then 'the answer does not match the response schema (or is not JSON)'
    end
{%- endmacro %}
