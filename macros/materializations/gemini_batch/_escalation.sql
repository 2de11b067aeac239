{#- Cascades (settings escalate_to, escalate_when; README "Cascades"). The rows whose first answer matches
    escalate_when are asked again of the second model. Which rows were escalated is decided by the hook after the
    first model's answers are merged (python_hooks/gemini_batch/batch/escalate.py) and recorded in m__escalations;
    dbt only lays out the relations:
      m__requests    gets escalation_hash: the request's hash under escalate_to (sha256(escalate_to + request), what
                     the row would hash to with gemini_model = escalate_to, so switching the model later pays for
                     none of the rows the second model already answered)
      m__escalations table, persistent: (request_hash, escalation_hash, escalated_at), one row per decision
      m__escalated   view: the escalated rows as requests of the second model (request_hash = escalation_hash), what
                     the hook submits; their answers go to m__responses like any other, keyed by their own hash
    The model's view then shows the second model's answer where it has one, and answered_by. -#}
{% macro _escalations_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__escalations'}, type='table')) }}
{% endmacro %}

{% macro _escalated_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__escalated'}, type='view')) }}
{% endmacro %}

{#- The hash of a request under the second model: _create_requests_table's request_hash with escalate_to. -#}
{% macro _escalation_hash_sql(escalate_to, request_text) %}
    {{- return('to_hex(sha256(concat(' ~ gemini_batch._sql_string(escalate_to) ~ ", '\\n', " ~ request_text ~ ')))') -}}
{% endmacro %}

{#- ", <hash> as escalation_hash" for m__requests with a cascade, else nothing. -#}
{% macro _escalation_column(escalate_to, request_text) %}
    {%- if escalate_to is none -%}
        {{- return('') -}}
    {%- endif -%}
    {{- return(', ' ~ gemini_batch._escalation_hash_sql(escalate_to, request_text) ~ ' as escalation_hash') -}}
{% endmacro %}

{#- Creates m__escalations when missing and (re)creates the m__escalated view over the new m__requests. -#}
{% macro _create_escalation_relations(model_relation, requests_relation) %}
    {%- set escalations = gemini_batch._escalations_relation(model_relation) -%}
    {%- set escalated = gemini_batch._escalated_relation(model_relation) -%}
    {%- call statement('gemini_batch_escalations') -%}
        create table if not exists {{ escalations }} (
            request_hash string,
            escalation_hash string,
            escalated_at timestamp
        )
        cluster by request_hash
    {%- endcall -%}
    {%- call statement('gemini_batch_escalated') -%}
        create or replace view {{ escalated }} as
        select
            requests.* except (request_hash, escalation_hash, {{ gemini_batch._package_columns() | join(', ') }}),
            requests.escalation_hash as request_hash
        from {{ requests_relation }} as requests
        inner join {{ escalations }} as escalations
            on requests.request_hash = escalations.request_hash
            and requests.escalation_hash = escalations.escalation_hash
    {%- endcall -%}
    {{ return(escalations) }}
{% endmacro %}
