{#- The model's own relation: every request row with its answer, if any. `status` is NULL while a row is pending,
    '' when it succeeded, else the error text Vertex returned. -#}
{% macro _joined_view_sql(requests_relation, responses_relation) %}
    select
        requests.*,
        responses.response,
        responses.status,
        responses.processed_time,
        responses.job_name,
        responses.attempts,
        responses.updated_at
    from {{ requests_relation }} as requests
    left join {{ responses_relation }} as responses
        on requests.request_hash = responses.request_hash
{% endmacro %}
