{{ config(materialized='table', tags=['macro_tests']) }}

{#- file_part() with the MIME type inferred from the uri's extension, read back from the request with JSON_VALUE. -#}

with

uris as (

    select
        uri_id,
        uri,
        expected_mime_type
    from {{ ref('macro_tests__file_uris') }}

),

built as (

    select
        uri_id,
        uri,
        expected_mime_type,
        {{ gemini_batch.request("'Describe the file.'", parts=[gemini_batch.file_part('uri')]) }} as request
    from uris

),

final as (

    select
        uri_id,
        uri,
        expected_mime_type,
        request,
        json_value(safe.parse_json(request), '$.contents[0].parts[1].fileData.fileUri') as file_uri,
        json_value(safe.parse_json(request), '$.contents[0].parts[1].fileData.mimeType') as mime_type
    from built

)

select * from final
