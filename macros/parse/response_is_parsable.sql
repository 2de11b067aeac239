{% macro response_is_parsable(response='response', parsed=false) -%}
    {#- TRUE when the output text is valid JSON, FALSE when there is text that is not (MAX_TOKENS truncation, prose),
        NULL when there is no text at all (pending, failed, blocked): nothing to parse, so no verdict. -#}
    {%- if parsed -%}
        case when gemini_batch_output_text is not null then gemini_batch_output is not null end
    {%- else -%}
        {%- set expression -%}
            case when gemini_batch_output_text is not null then {{ gemini_batch._json_parsed_output() }} is not null end
        {%- endset -%}
        {{ gemini_batch._json_output_text(response, expression) }}
    {%- endif -%}
{%- endmacro %}
