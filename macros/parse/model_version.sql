{% macro model_version(response='response') -%}
    json_value({{ response }}, '$.modelVersion')
{%- endmacro %}
