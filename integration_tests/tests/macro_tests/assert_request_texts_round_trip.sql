{#- One row per text and failed check: the text must decode with the expected byte length, the request must be NULL
    exactly when the text is, be valid JSON, and give the text back unchanged from every place it was put. -#}

with

built as (

    select * from {{ ref('test_request_text_round_trip') }}

),

checks as (

    select
        built.text_id,
        check_result.check_name,
        check_result.passed
    from built
    cross join unnest([
        struct(
            'text decodes to the expected bytes' as check_name,
            (
                coalesce(prompt_byte_length = expected_byte_length, false)
                or (prompt_byte_length is null and expected_byte_length is null)
            ) as passed
        ),
        struct(
            'request is NULL exactly when the text is NULL' as check_name,
            ((request is null) = (prompt_text is null)) as passed
        ),
        struct(
            'request is valid JSON' as check_name,
            (request is null or request_is_json) as passed
        ),
        struct(
            'prompt round-trips' as check_name,
            (prompt_text is null or coalesce(prompt_round_trip = prompt_text, false)) as passed
        ),
        struct(
            'extra text part round-trips' as check_name,
            (prompt_text is null or coalesce(part_round_trip = prompt_text, false)) as passed
        ),
        struct(
            'system instruction round-trips' as check_name,
            (prompt_text is null or coalesce(system_instruction_round_trip = prompt_text, false)) as passed
        ),
        struct(
            'label value round-trips' as check_name,
            (prompt_text is null or coalesce(label_round_trip = built.text_id, false)) as passed
        )
    ]) as check_result

),

final as (

    select
        text_id,
        check_name
    from checks
    where not passed

)

select * from final
