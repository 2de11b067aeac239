{{ config(materialized='table', tags=['macro_tests']) }}

{#- request() on texts that are hard to put in JSON. The text is used as the prompt, an extra text part, the system
    instruction and a label value; reading each back with JSON_VALUE must give the text unchanged. -#}

with

texts as (

    select
        text_id,
        safe_convert_bytes_to_string(from_base64(text_base64)) as prompt_text,
        expected_byte_length
    from {{ ref('macro_tests__request_texts') }}

),

built as (

    select
        text_id,
        prompt_text,
        expected_byte_length,
        {{ gemini_batch.request(
            'prompt_text',
            system_instruction='prompt_text',
            parts=['prompt_text'],
            labels={'text_id': 'text_id'}
        ) }} as request
    from texts

),

final as (

    select
        text_id,
        prompt_text,
        expected_byte_length,
        byte_length(prompt_text) as prompt_byte_length,
        request,
        safe.parse_json(request) is not null as request_is_json,
        json_value(safe.parse_json(request), '$.contents[0].parts[0].text') as prompt_round_trip,
        json_value(safe.parse_json(request), '$.contents[0].parts[1].text') as part_round_trip,
        json_value(safe.parse_json(request), '$.systemInstruction.parts[0].text') as system_instruction_round_trip,
        json_value(safe.parse_json(request), '$.labels.text_id') as label_round_trip
    from built

)

select * from final
