{#- One row per (answer, column) whose value in test_output_schema differs from macro_tests__output_expected, plus a row
    for an answer missing on either side. A column read under another spelling of its type (stars_as_bigint, ...) or
    without parsed_response (..._unparsed) must equal the same expectation. NULL-safe and typed as in
    assert_parse_macros_match_expected; NUMERIC is compared with `=` only (bqemulator prints its DuckDB scale). -#}
{%- set checks = [
    ('output_state', 'output_state'), ('output_state_from_response_schema', 'output_state'), ('sentiment', 'sentiment'), ('score', 'score'), ('stars', 'stars'),
    ('is_spam', 'is_spam'), ('price', 'price'), ('published', 'published'), ('seen_at', 'seen_at'),
    ('topics', 'topics'), ('counts', 'counts'), ('product_name', 'product_name'), ('product_sku', 'product_sku'),
    ('note', 'note'), ('stars_as_bigint', 'stars'), ('score_as_float', 'score'), ('is_spam_as_bool', 'is_spam'),
    ('published_unparsed', 'published'), ('product_name_unparsed', 'product_name'), ('counts_unparsed', 'counts'),
] -%}
{%- set typed_only_checks = ['price'] -%}

with

actual as (

    select * from {{ ref('test_output_schema') }}

),

expected as (

    select * from {{ ref('macro_tests__output_expected') }}

),

compared as (

    select
        coalesce(actual.row_id, expected.row_id) as row_id,
        check_result.check_name,
        check_result.actual_value,
        check_result.expected_value,
        check_result.passed
    from actual
    full outer join expected
        on actual.row_id = expected.row_id
    cross join unnest([
        {%- for column, expectation in checks %}
            struct(
                '{{ column }}' as check_name,
                (
                    coalesce(
                        actual.{{ column }} = expected.expected_{{ expectation }}
                        {%- if column not in typed_only_checks %}
                            and cast(actual.{{ column }} as string) = cast(expected.expected_{{ expectation }} as string)
                        {%- endif %},
                        false
                    )
                    or (actual.{{ column }} is null and expected.expected_{{ expectation }} is null)
                ) as passed,
                cast(actual.{{ column }} as string) as actual_value,
                cast(expected.expected_{{ expectation }} as string) as expected_value
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
        check_name,
        actual_value,
        expected_value
    from compared
    where not passed

)

select * from final
