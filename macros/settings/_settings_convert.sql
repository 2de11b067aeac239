{#- A setting's raw value as its type, or none when it cannot be one. Text is accepted for numbers and booleans
    (environment variables, env_var() in yml), `5.0` for a whole number (manifests), never true for a number.
    Same as settings._convert in Python. -#}
{% macro _settings_convert(info, value) %}
    {%- set rules = gemini_batch._settings_rules() -%}
    {%- set text = (value | trim) if value is string else none -%}
    {%- if info.type == 'bool' -%}
        {%- if value is boolean -%}
            {{ return(value) }}
        {%- elif text is not none and (text | lower) in ['true', 'false'] -%}
            {{ return((text | lower) == 'true') }}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if info.type == 'any' -%}
        {#- output_schema, unique_key: a string, a list or a dictionary (what each means is checked where it is used) -#}
        {{ return(value if ((value is string and (value | trim)) or (value is mapping and value)
            or (value is sequence and value is not string and value is not mapping and value)) else none) }}
    {%- endif -%}
    {%- if value is boolean -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if info.type == 'int' -%}
        {%- if value is integer -%}
            {{ return(value) }}
        {%- elif value is float and value == (value | int) -%}
            {{ return(value | int) }}
        {%- elif text is not none and modules.re.fullmatch(rules.int_text, text) -%}
            {{ return(text | int) }}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if info.type == 'float' -%}
        {%- if value is number -%}
            {{ return(value | float) }}
        {%- elif text is not none and modules.re.fullmatch(rules.float_text, text) -%}
            {{ return(text | float) }}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(value if (value is string and (value | trim)) else none) }}
{% endmacro %}
