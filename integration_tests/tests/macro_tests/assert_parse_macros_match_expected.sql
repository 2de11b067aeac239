{#- One row per (fixture, input type, macro) whose result differs from the hand-written expectation, plus a row for
    any fixture missing on either side. Equality is NULL-safe: `a = b or (a is null and b is null)` alone would miss a
    NULL on one side (NULL or FALSE is NULL, and `where not NULL` keeps nothing), hence the coalesce. It is also typed:
    `=` rejects a STRING against an INT64 at compile time, and comparing the values cast to STRING too catches what `=`
    coerces (an INT64 3 equals a FLOAT64 3.0, but '3' is not '3.0'). -#}
{%- set checks = [
    'response_state', 'error_message', 'response_text', 'is_parsable', 'sentiment', 'score', 'item_count', 'is_spam',
    'price', 'published', 'seen_at', 'channel', 'tags', 'tag_count', 'finish_reason', 'block_reason', 'is_blocked',
    'prompt_tokens', 'candidates_tokens', 'thoughts_tokens', 'total_tokens', 'cached_tokens', 'tool_use_prompt_tokens',
    'model_version',
] -%}
{#- NUMERIC is compared with `=` only: bqemulator prints a NUMERIC with the scale of the DuckDB DECIMAL behind it
    ('19.990' for the macro's value, '19.990000000' for the seed's), BigQuery prints both as '19.99'. -#}
{%- set typed_only_checks = ['price'] -%}

with

actual as (

    select * from {{ ref('test_parse_macros') }}

),

expected as (

    select
        expected_values.*,
        input_type
    from {{ ref('macro_tests__parse_expected') }} as expected_values
    cross join unnest(['json', 'string']) as input_type

),

compared as (

    select
        coalesce(actual.row_id, expected.row_id) as row_id,
        coalesce(actual.response_input_type, expected.input_type) as response_input_type,
        check_result.check_name,
        check_result.actual_value,
        check_result.expected_value,
        check_result.passed
    from actual
    full outer join expected
        on
            actual.row_id = expected.row_id
            and actual.response_input_type = expected.input_type
    cross join unnest([
        {%- for check in checks %}
            struct(
                '{{ check }}' as check_name,
                (
                    coalesce(
                        actual.{{ check }} = expected.expected_{{ check }}
                        {%- if check not in typed_only_checks %}
                            and cast(actual.{{ check }} as string) = cast(expected.expected_{{ check }} as string)
                        {%- endif %},
                        false
                    )
                    or (actual.{{ check }} is null and expected.expected_{{ check }} is null)
                ) as passed,
                cast(actual.{{ check }} as string) as actual_value,
                cast(expected.expected_{{ check }} as string) as expected_value
            ),
        {%- endfor %}
        struct(
            'row present on both sides' as check_name,
            (actual.row_id is not null and expected.row_id is not null) as passed,
            actual.row_id as actual_value,
            expected.row_id as expected_value
        )
    ]) as check_result

),

final as (

    select
        row_id,
        response_input_type,
        check_name,
        actual_value,
        expected_value
    from compared
    where not passed

)

select * from final
