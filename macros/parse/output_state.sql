{% macro output_state(output_schema=none, status='status', response='response', output='gemini_batch_output', expect_json=true) -%}
    {#- STRING: what became of a row, the first reason that applies: pending (not answered yet), failed (Vertex wrote an
        error, or a "success" without any answer), blocked (promptFeedback.blockReason or a blocking finishReason),
        truncated (finishReason MAX_TOKENS), invalid_output (no text, text that is not JSON, or, given an
        output_schema, a missing required field, a wrong type or a value outside the enum), answered.
        `output` is the parsed answer column parsed_response() adds. Without an output_schema, `expect_json` says
        whether text that is not JSON is invalid: true (the default), false, or a SQL condition read per row (the
        materialization passes "the request asked for application/json"), so a plain-text answer stays answered. -#}
    {%- if output_schema is not none or expect_json is true -%}
        {%- set checks = [output ~ ' is not null'] -%}
    {%- elif expect_json is false or expect_json is none -%}
        {%- set checks = ['true'] -%}
    {%- else -%}
        {%- set checks = ['(not coalesce(' ~ expect_json ~ ', false) or ' ~ output ~ ' is not null)'] -%}
    {%- endif -%}
    {%- if output_schema is not none -%}
        {%- do checks.append(gemini_batch._json_type(output) ~ " = 'object'") -%}
        {%- for field in gemini_batch.output_schema_fields(output_schema) -%}
            {%- do checks.append(gemini_batch._json_typed_check(output, '$.' ~ field['name'], field)) -%}
        {%- endfor -%}
    {%- endif -%}
    case
        when {{ gemini_batch.response_state(status, response) }} = 'pending' then 'pending'
        when {{ gemini_batch.response_state(status, response) }} = 'failed' then 'failed'
        when {{ gemini_batch.block_reason(response) }} is not null then 'blocked'
        when {{ gemini_batch.finish_reason(response) }} = 'MAX_TOKENS' then 'truncated'
        when not coalesce({{ checks | join('\n            and ') }}, false) then 'invalid_output'
        else 'answered'
    end
{%- endmacro %}
