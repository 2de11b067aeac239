{% macro response_text(response='response') -%}
    {{ gemini_batch._json_output_text(response) }}
{%- endmacro %}
