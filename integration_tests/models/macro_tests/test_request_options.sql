{{ config(materialized='table', tags=['macro_tests']) }}

{#- One request() call per group of cases (the options are compile-time arguments), each applied to its rows of
    macro_tests__request_inputs. The expected request text, byte for byte, is in macro_tests__request_expected. -#}

with

inputs as (

    select * from {{ ref('macro_tests__request_inputs') }}

),

built as (

    select
        case_id,
        {{ gemini_batch.request('prompt') }} as request
    from inputs
    where case_id = 'c01_minimal'

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', system_instruction='system_text') }} as request
    from inputs
    where case_id in ('c02_system_instruction', 'c03_null_system_instruction', 'c15_null_prompt')

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', generation_config={
            'temperature': 0.2,
            'max_output_tokens': 256,
            'top_p': 0.95,
            'top_k': 40,
            'stop_sequences': ['END', '\n\n'],
            'thinking_config': {'thinking_budget': 0, 'include_thoughts': false},
            'seed': 7,
            'candidate_count': 1,
            'presence_penalty': 0.0,
            'frequency_penalty': 0.5
        }) }} as request
    from inputs
    where case_id = 'c04_generation_config_snake_case'

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', generation_config={
            'temperature': 1,
            'maxOutputTokens': 100,
            'responseMimeType': 'text/plain'
        }) }} as request
    from inputs
    where case_id = 'c05_generation_config_camel_case'

    union all

    select
        case_id,
        {{ gemini_batch.request(
            'prompt',
            response_schema={
                'type': 'OBJECT',
                'properties': {
                    'sentiment': {'type': 'STRING', 'enum': ['positive', 'negative', 'neutral']},
                    'score': {'type': 'NUMBER'},
                    'aspect_tags': {'type': 'ARRAY', 'items': {'type': 'STRING'}}
                },
                'required': ['sentiment', 'score']
            },
            generation_config={'temperature': 0}
        ) }} as request
    from inputs
    where case_id = 'c06_response_schema'

    union all

    select
        case_id,
        {{ gemini_batch.request(
            'prompt',
            response_schema={'type': 'STRING', 'enum': ['a', 'b']},
            generation_config={'response_mime_type': 'text/x.enum'}
        ) }} as request
    from inputs
    where case_id = 'c07_response_schema_explicit_mime'

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', parts=[
            gemini_batch.file_part('image_uri'),
            gemini_batch.file_part('doc_uri', "'application/pdf'"),
            "'Answer in French.'"
        ]) }} as request
    from inputs
    where case_id in ('c08_file_parts', 'c09_null_file_uri', 'c10_unknown_extension')

    union all

    select
        case_id,
        {{ gemini_batch.request(
            'prompt',
            safety_settings={'HARM_CATEGORY_HATE_SPEECH': 'BLOCK_ONLY_HIGH', 'HARM_CATEGORY_DANGEROUS_CONTENT': 'BLOCK_NONE'},
            labels={'tier': 'customer_tier', 'channel': 'channel'}
        ) }} as request
    from inputs
    where case_id in ('c11_safety_dict_and_labels', 'c12_null_label_value')

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', safety_settings=[
            {'category': 'HARM_CATEGORY_HARASSMENT', 'threshold': 'BLOCK_LOW_AND_ABOVE', 'method': 'SEVERITY'},
            {'category': 'HARM_CATEGORY_SEXUALLY_EXPLICIT', 'threshold': 'OFF'}
        ]) }} as request
    from inputs
    where case_id = 'c13_safety_list'

    union all

    select
        case_id,
        {{ gemini_batch.request(
            'prompt',
            system_instruction='system_text',
            response_schema={'type': 'OBJECT', 'properties': {'stars': {'type': 'INTEGER'}}},
            generation_config={'temperature': 0.1, 'thinking_config': {'thinking_budget': 128}},
            parts=[gemini_batch.file_part('image_uri'), "'Be brief.'"],
            safety_settings={'HARM_CATEGORY_HARASSMENT': 'BLOCK_NONE'},
            labels={'channel': 'channel', 'batch_no': '42'}
        ) }} as request
    from inputs
    where case_id = 'c14_everything'

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', parts=[gemini_batch.file_part('image_uri', 'mime_type')]) }} as request
    from inputs
    where case_id in ('c16_explicit_mime_type', 'c17_null_explicit_mime_type')

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', generation_config={
            'max_output_tokens': 64,
            'response_schema': {
                'type': 'OBJECT',
                'properties': {
                    'is_spam': {'type': 'BOOLEAN'},
                    'aspect_tags': {'type': 'ARRAY', 'items': {'type': 'STRING'}}
                },
                'property_ordering': ['is_spam', 'aspect_tags']
            }
        }) }} as request
    from inputs
    where case_id = 'c18_schema_inside_generation_config'

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', parts=[
            gemini_batch.file_part('image_uri', required=true),
            gemini_batch.text_part('system_text')
        ]) }} as request
    from inputs
    where case_id = 'c19_required_parts_null'

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', parts=['system_text', gemini_batch.text_part('channel', required=true)]) }} as request
    from inputs
    where case_id = 'c20_optional_text_null'

    union all

    select
        case_id,
        {{ gemini_batch.request('prompt', output_schema=var('macro_tests_output_schema')) }} as request
    from inputs
    where case_id = 'c21_output_schema_sql'

    union all

    select
        case_id,
        {{ gemini_batch.request(
            'prompt',
            output_schema={
                'score': {'type': 'FLOAT', 'description': 'From 0 to 1'},
                'tags': 'ARRAY<STRING>',
                'flag': {'type': 'BOOLEAN', 'required': false}
            },
            generation_config={'temperature': 0}
        ) }} as request
    from inputs
    where case_id = 'c22_output_schema_dict'

),

final as (

    select
        case_id,
        request,
        safe.parse_json(request) is not null as request_is_json
    from built

)

select * from final
