{#- Generic test on a gemini_batch model (its view's output_state column, or `column_name`): fails when, among the
    rows sent (not pending), the share answered is below min_answered, or the share invalid_output / failed is above
    max_invalid / max_failed, or the share given up (dead letters: no usable answer and never sent again, the
    view's given_up column) is above max_given_up. Returns one row with the counts when it fails. Thresholds are
    fractions (0.95); max_given_up 0 fails on the first dead letter, and severity warn makes any of them a warning.
    A relation without a given_up column is judged without max_given_up. -#}
{% test answer_rate(model, column_name='output_state', min_answered=0.95, max_invalid=none, max_failed=none, max_given_up=none) %}
    {%- set has_given_up = execute and 'given_up' in (
        adapter.get_columns_in_relation(model) | map(attribute='name') | map('lower') | list) %}
    with

    counts as (
        select
            countif({{ column_name }} != 'pending') as sent_rows,
            countif({{ column_name }} = 'answered') as answered_rows,
            countif({{ column_name }} = 'invalid_output') as invalid_rows,
            countif({{ column_name }} = 'failed') as failed_rows,
            countif({{ 'coalesce(given_up, false)' if has_given_up else 'false' }}) as given_up_rows
        from {{ model }}
    )

    select *
    from counts
    where sent_rows > 0
        and (
            answered_rows / sent_rows < {{ min_answered }}
            or invalid_rows / sent_rows > {{ 1 if max_invalid is none else max_invalid }}
            or failed_rows / sent_rows > {{ 1 if max_failed is none else max_failed }}
            or given_up_rows / sent_rows > {{ 1 if max_given_up is none else max_given_up }}
        )
{% endtest %}
