{% macro response_text(response='response', parsed=false) -%}
    {#- parsed=true reads the gemini_batch_output_text column of parsed_response() instead of rebuilding the text. -#}
    {%- if parsed -%}
        gemini_batch_output_text
    {%- else -%}
        {{ gemini_batch._json_output_text(response) }}
    {%- endif -%}
{%- endmacro %}
