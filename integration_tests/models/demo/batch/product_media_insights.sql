{#- The multimodal batch step of the demo: one request per product file, a short text part plus the file itself as a
    fileData part (gs:// URI and MIME type; gemini_batch.file_part). Gemini reads the object from Cloud Storage when it
    answers the row; the local emulator answers from the object's metadata (MIME type, size, name), so a PNG, a JPEG
    and a PDF get different, reproducible answers. Tagged demo_media, not demo: building it needs the objects in Cloud
    Storage, which `make demo` uploads (gemini_batch.demo_media); check_file_uris (default sample) stops the model
    before any job when one of them is missing. The prompt names no kind of file, so the answer's media_kind comes
    from the file alone. -#}
{{
    config(
        materialized='gemini_batch',
        tags=['demo_media'],
        meta={
            'gemini_model': 'gemini-2.5-flash',
            'output_schema': {
                'media_kind': {
                    'type': 'STRING',
                    'enum': ['image', 'pdf'],
                    'description': 'image for a photo or picture, pdf for a document.',
                },
                'description': {'type': 'STRING', 'description': 'What the file shows, in one sentence.'},
            },
        },
    )
}}

with

media as (

    select * from {{ ref('stg_shop__product_media') }}

),

final as (

    select
        product_id,
        media_uri,
        mime_type,
        {{ gemini_batch.request(
            prompt="concat('Product ', cast(product_id as string), ': say what kind of file is attached and what it "
                ~ "shows, for the shop catalogue.')",
            parts=[gemini_batch.file_part('media_uri', mime_type='mime_type', required=true)],
            generation_config={'temperature': 0, 'max_output_tokens': 256},
            labels={'pipeline': "'demo_media'"},
        ) }} as request
    from media

)

select * from final
