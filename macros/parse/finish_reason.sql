{% macro finish_reason(response='response') -%}
    json_value({{ response }}, '$.candidates[0].finishReason')
{%- endmacro %}
