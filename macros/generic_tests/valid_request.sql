{#- Generic test: the pre-submission check of the materialization (_request_problem) as a dbt test on any relation
    holding GenerateContentRequests (a gemini_batch model's view, or the model feeding it). Fails with one row per
    request Vertex would reject, with the reason in gemini_batch_problem. -#}
{% test valid_request(model, column_name='request') %}
    with

    parsed as (
        select
            *,
            to_json_string(safe.parse_json({{ column_name }}, wide_number_mode => 'round')) as gemini_batch_parsed
        from {{ model }}
    ),

    checked as (
        select
            * except (gemini_batch_parsed),
            {{ gemini_batch._request_problem(column_name, 'gemini_batch_parsed') }} as gemini_batch_problem
        from parsed
    )

    select *
    from checked
    where gemini_batch_problem is not null
{% endtest %}
