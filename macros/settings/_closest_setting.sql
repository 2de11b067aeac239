{#- The setting a config key was probably meant to be, or none when the key is a setting or unrelated to them: within
    edit distance 2 (lower-cased, `-` as `_`), a setting's words in another order, or a settings prefix (gemini_,
    vertex_, max_, poll_). dbt's own configs never are. Same rule as settings.closest_setting in Python. -#}
{% macro _closest_setting(key) %}
    {%- set registry = gemini_batch._settings_registry() -%}
    {%- set rules = gemini_batch._settings_rules() -%}
    {%- if key in registry or key in rules.dbt_config_keys -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set normal = key | lower | replace('-', '_') -%}
    {%- set found = namespace(best=none, distance=none) -%}
    {%- for name in registry -%}
        {%- set distance = gemini_batch._settings_edit_distance(normal, name) -%}
        {%- if found.distance is none or distance < found.distance -%}
            {%- set found.best = name -%}
            {%- set found.distance = distance -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if found.distance is not none and found.distance <= rules.near_miss_distance -%}
        {{ return(found.best) }}
    {%- endif -%}
    {%- set words = normal.split('_') | sort -%}
    {%- for name in registry -%}
        {%- if (name.split('_') | sort) == words -%}
            {{ return(name) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for prefix in rules.prefixes -%}
        {%- if normal.startswith(prefix) -%}
            {{ return(found.best) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}
