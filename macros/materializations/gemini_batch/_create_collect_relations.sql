{#- Where the hook judges a job's answers in the statement that writes them (gemini_batch/batch/collect.py): the
    hook writes each job's matching output rows to m__collected (one collector per answer cache at a time, the
    collect lease) and inserts them into m__responses from m__collected_judged, this view, which adds the answer's
    output_state (_answer_state, the rule of the model's view, rendered here from the model's output schema). So a
    job's answers are judged once, as they are written, by reading the job's rows only: no second statement over the
    whole cache (README "Costs").
    The table is created empty when missing (a view must name a table that exists); the hook replaces its rows for
    each job and it expires a day after (the view then waits for the next job to create it again). A DDL statement
    each: neither scans anything. -#}
{% macro _create_collect_relations(model_relation, output_schema) %}
    {%- set collected = gemini_batch._collected_relation(model_relation) -%}
    {%- set judged = gemini_batch._collected_judged_relation(model_relation) -%}
    {%- call statement('gemini_batch_collected') -%}
        create table if not exists {{ collected }} (
            {{ gemini_batch._collected_columns() }}
        )
        {{ gemini_batch._table_options('staging') }}
    {%- endcall -%}
    {%- set columns -%}
        (select request_hash, request, response, status, processed_time, matches from {{ collected }})
    {%- endset -%}
    {%- call statement('gemini_batch_collected_judged') -%}
        create or replace view {{ judged }} as
        select
            request_hash, request, response, status, processed_time, matches,
            {{ gemini_batch._answer_state(output_schema) }} as output_state
        from ({{ gemini_batch.parsed_response(columns) }})
    {%- endcall -%}
{% endmacro %}

{#- The columns of m__collected, as the hook writes them (gemini_batch/batch/collect.py, COLLECTED_COLUMNS). -#}
{% macro _collected_columns() %}
    {{- return('request_hash string, request string, response json, status string, processed_time timestamp, matches bool, raw_key string') -}}
{% endmacro %}

{% macro _collected_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__collected'}, type='table')) }}
{% endmacro %}

{% macro _collected_judged_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__collected_judged'}, type='view')) }}
{% endmacro %}
