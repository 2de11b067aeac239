{#- Generic test, severity warn by default: rows still waiting for an answer that will come, i.e. state 'pending'
    or a failed/truncated/invalid_output row that will be sent again (not given_up). On a gemini_batch model's view
    (output_state, given_up) or any model that carries those columns (column_name names the state column; a model
    without a given_up column is judged on 'pending' alone). -#}
{% test no_pending(model, column_name='output_state') %}
    {{ config(severity='warn') }}
    {%- set has_given_up = execute and 'given_up' in (
        adapter.get_columns_in_relation(model) | map(attribute='name') | map('lower') | list) -%}
    select *
    from {{ model }}
    {%- set retry_due = "(" ~ column_name ~ " in ('failed', 'truncated', 'invalid_output') and not coalesce(given_up, false))"
        if has_given_up else 'false' %}
    where {{ column_name }} = 'pending' or {{ retry_due }}
{% endtest %}
