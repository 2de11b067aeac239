{#- m__responses: the persistent answer cache, one row per request_hash. The hook merges each job's output here;
    a success is never overwritten, a failure keeps its status and counts an attempt.
    Created only when missing; its options are then set on every run, so a table created before (or by a dataset
    with a default table expiration, which BigQuery applies at creation) never expires and follows the model's
    labels, description and key. Clustered by request_hash: every merge and the model's view join on it. -#}
{% macro _create_responses_table(responses_relation) %}
    {%- call statement('gemini_batch_responses') -%}
        create table if not exists {{ responses_relation }} (
            request_hash string,
            request string,
            response json,
            status string,
            processed_time timestamp,
            job_name string,
            attempts int64,
            updated_at timestamp,
            judged_at timestamp
        )
        cluster by request_hash
    {%- endcall -%}
    {%- call statement('gemini_batch_responses_options') -%}
        alter table {{ responses_relation }} set {{ gemini_batch._table_options('responses') }}
    {%- endcall -%}
{% endmacro %}
