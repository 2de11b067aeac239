{% macro is_blocked(response='response') -%}
    {#- NULL when there is no response yet (pending or failed rows): unknown, not "not blocked". -#}
    case
        when {{ response }} is not null
            then {{ gemini_batch.block_reason(response) }} is not null
    end
{%- endmacro %}
