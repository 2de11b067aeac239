{#- One row per case whose request differs, byte for byte, from the expected text (NULL-safe), is not valid JSON, or is
    missing on either side. The inputs are ASCII, so BigQuery and bqemulator escape them identically. -#}

with

actual as (

    select * from {{ ref('test_request_options') }}

),

expected as (

    select * from {{ ref('macro_tests__request_expected') }}

),

final as (

    select
        coalesce(actual.case_id, expected.case_id) as case_id,
        actual.request as actual_request,
        expected.expected_request,
        case
            when actual.case_id is null then 'case missing from test_request_options'
            when expected.case_id is null then 'case missing from macro_tests__request_expected'
            when actual.request is not null and not actual.request_is_json then 'request is not valid JSON'
            else 'request differs from the expected text'
        end as failure
    from actual
    full outer join expected
        on actual.case_id = expected.case_id
    where
        actual.case_id is null
        or expected.case_id is null
        or (actual.request is not null and not actual.request_is_json)
        or not (
            coalesce(actual.request = expected.expected_request, false)
            or (actual.request is null and expected.expected_request is null)
        )

)

select * from final
