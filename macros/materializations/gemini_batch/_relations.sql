{#- The two tables that stand behind a gemini_batch model `m`: m__requests and m__responses (same dataset). -#}
{% macro _requests_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__requests'}, type='table')) }}
{% endmacro %}

{% macro _responses_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__responses'}, type='table')) }}
{% endmacro %}

{#- The Gemini model answering this dbt model. It is part of request_hash, so changing it asks again.
    Read like every package setting (macros/settings/_setting_value.sql): meta first (`config(meta={'gemini_model':
    ...})`, `+meta: {gemini_model: ...}`), then a top-level config, then the default of the registry - the precedence
    the Python hook applies to the manifest, so both hash and send the same model. -#}
{% macro _gemini_model(model_config) %}
    {{ return(gemini_batch._setting_value(model_config, 'gemini_model')) }}
{% endmacro %}
