{% macro block_reason(response='response') -%}
    {#- A blocked prompt has no candidates, only promptFeedback.blockReason; a blocked answer has a candidate whose
        finishReason is one of blocking_finish_reasons() (often with no content at all). -#}
    coalesce(
        json_value({{ response }}, '$.promptFeedback.blockReason'),
        case
            when {{ gemini_batch.finish_reason(response) }} in ('{{ gemini_batch.blocking_finish_reasons() | join("', '") }}')
                then {{ gemini_batch.finish_reason(response) }}
        end
    )
{%- endmacro %}
