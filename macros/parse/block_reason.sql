{% macro block_reason(response='response') -%}
    {#- A blocked prompt has no candidates, only promptFeedback.blockReason; a blocked answer has a candidate whose
        finishReason is a safety-type stop (often with no content at all). -#}
    coalesce(
        json_value({{ response }}, '$.promptFeedback.blockReason'),
        case
            when {{ gemini_batch.finish_reason(response) }} in (
                'SAFETY', 'PROHIBITED_CONTENT', 'BLOCKLIST', 'SPII', 'RECITATION', 'IMAGE_SAFETY'
            )
                then {{ gemini_batch.finish_reason(response) }}
        end
    )
{%- endmacro %}
