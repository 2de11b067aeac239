{#- Generic test on a gemini_batch model (its view's output_state column, or `column_name`): fails when, among the
    rows sent (not pending), the share answered is below min_answered, or the share invalid_output / failed is above
    max_invalid / max_failed. Returns one row with the counts when it fails. Thresholds are fractions (0.95). -#}
{% test answer_rate(model, column_name='output_state', min_answered=0.95, max_invalid=none, max_failed=none) %}
    with

    counts as (
        select
            countif({{ column_name }} != 'pending') as sent_rows,
            countif({{ column_name }} = 'answered') as answered_rows,
            countif({{ column_name }} = 'invalid_output') as invalid_rows,
            countif({{ column_name }} = 'failed') as failed_rows
        from {{ model }}
    )

    select *
    from counts
    where sent_rows > 0
        and (
            answered_rows / sent_rows < {{ min_answered }}
            or invalid_rows / sent_rows > {{ 1 if max_invalid is none else max_invalid }}
            or failed_rows / sent_rows > {{ 1 if max_failed is none else max_failed }}
        )
{% endtest %}
