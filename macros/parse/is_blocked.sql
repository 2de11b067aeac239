{% macro is_blocked(response='response') -%}
    {#- NULL when there is no answer (pending rows, failed rows whose response is `{}`): unknown, not "not blocked". -#}
    case
        when {{ gemini_batch._json_has_answer(response) }}
            then {{ gemini_batch.block_reason(response) }} is not null
    end
{%- endmacro %}
