{#- m__responses: the persistent answer cache, one row per request_hash. The hook merges each job's output here;
    a success is never overwritten, a failure keeps its status and counts an attempt. -#}
{% macro _create_responses_table(responses_relation) %}
    create table if not exists {{ responses_relation }} (
        request_hash string,
        request string,
        response json,
        status string,
        processed_time timestamp,
        job_name string,
        attempts int64,
        updated_at timestamp
    )
{% endmacro %}
