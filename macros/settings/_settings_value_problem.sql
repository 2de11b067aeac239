{#- Why a converted setting value is not allowed (the end of a sentence), or none when it is. Same checks and words as
    settings._value_problem in Python. -#}
{% macro _settings_value_problem(name, info, value) %}
    {%- if name == 'vertex_location' and (value | string | lower) in gemini_batch._settings_rules().multi_regions -%}
        {{ return('is a BigQuery multi-region, not a Vertex AI location: set vertex_location to a region inside it '
            ~ '(for example us-central1 for US, europe-west4 for EU) and keep the model\'s datasets in that region') }}
    {%- endif -%}
    {%- if info.get('pattern') is not none and value is string and not modules.re.fullmatch(info.pattern, value) -%}
        {{ return(info.get('hint') or ('must match ' ~ info.pattern)) }}
    {%- endif -%}
    {%- set minimum, maximum, above = info.get('minimum'), info.get('maximum'), info.get('above') -%}
    {%- if minimum is not none and maximum is not none and not (minimum <= value <= maximum) -%}
        {{ return('must be between ' ~ minimum ~ ' and ' ~ maximum) }}
    {%- endif -%}
    {%- if minimum is not none and value < minimum -%}
        {{ return('must be at least ' ~ minimum) }}
    {%- endif -%}
    {%- if above is not none and value <= above -%}
        {{ return('must be greater than ' ~ above) }}
    {%- endif -%}
    {{ return(none) }}
{% endmacro %}
