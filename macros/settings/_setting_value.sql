{#- A setting's value for a model, unchecked (_validate_settings checks it), by the precedence the hook uses too:
    the model's meta, then a top-level config key (compatibility), then the setting's environment variable, then the
    default. `model_config` is dbt's `config` object or the `model.config` dictionary (both have .get). -#}
{% macro _setting_value(model_config, name) %}
    {%- set info = gemini_batch._settings_registry()[name] -%}
    {%- set meta = model_config.get('meta') or {} -%}
    {%- if meta is mapping and meta.get(name) is not none -%}
        {{ return(meta[name]) }}
    {%- endif -%}
    {%- if model_config.get(name) is not none -%}
        {{ return(model_config.get(name)) }}
    {%- endif -%}
    {%- if info.get('env') and env_var(info.env, '') -%}
        {{ return(env_var(info.env)) }}
    {%- endif -%}
    {{ return(info.default) }}
{% endmacro %}
