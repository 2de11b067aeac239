{% macro _json_parsed_output() -%}
    {#- The output text (inside _json_output_text) parsed as JSON, NULL when it is not JSON (truncated by MAX_TOKENS,
        prose, no text). SAFE.PARSE_JSON never raises; wide_number_mode 'round' keeps one over-long number from making the
        whole output unparsable (the default 'exact' rejects it). -#}
    safe.parse_json(gemini_batch_output_text, wide_number_mode => 'round')
{%- endmacro %}
