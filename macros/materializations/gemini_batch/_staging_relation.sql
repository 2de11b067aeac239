{#- A staging relation of one invocation of a gemini_batch model: unique per dbt invocation, so two runs of the same
    model at once never share one, and named after the model so a leftover is easy to trace. -#}
{% macro _staging_relation(model_relation, relation_type) %}
    {%- set suffix = '__gemini_batch_' ~ relation_type ~ '_' ~ (invocation_id | replace('-', ''))[:12] -%}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ suffix}, type=relation_type)) }}
{% endmacro %}
