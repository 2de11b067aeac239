{#- The two tables that stand behind a gemini_batch model `m`: m__requests and m__responses (same dataset). -#}
{% macro _requests_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__requests'}, type='table')) }}
{% endmacro %}

{% macro _responses_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__responses'}, type='table')) }}
{% endmacro %}

{#- The Gemini model answering this dbt model. It is part of request_hash, so changing it asks again.
    Set it with config(gemini_model=...) or `+gemini_model:` in dbt_project.yml (a config, not a var, because the
    Python hook reads it from the manifest). The default must match gemini_batch.settings.DEFAULT_GEMINI_MODEL. -#}
{% macro _gemini_model(model_config) %}
    {{ return(model_config.get('gemini_model', 'gemini-2.5-flash')) }}
{% endmacro %}
