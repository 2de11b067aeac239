{#- Levenshtein distance of two strings (Jinja has no difflib); the same as settings.edit_distance in Python. -#}
{% macro _settings_edit_distance(a, b) %}
    {%- set state = namespace(previous=range(b | length + 1) | list) -%}
    {%- for i in range(1, a | length + 1) -%}
        {%- set current = [i] -%}
        {%- for j in range(1, b | length + 1) -%}
            {%- set cost = 0 if a[i - 1] == b[j - 1] else 1 -%}
            {%- do current.append([state.previous[j] + 1, current[j - 1] + 1, state.previous[j - 1] + cost] | min) -%}
        {%- endfor -%}
        {%- set state.previous = current -%}
    {%- endfor -%}
    {{ return(state.previous[-1]) }}
{% endmacro %}
