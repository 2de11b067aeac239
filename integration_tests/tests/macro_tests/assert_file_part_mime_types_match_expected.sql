{#- One row per uri whose inferred MIME type differs from the expected one, whose uri does not round-trip, whose
    request is not NULL although no MIME type can be inferred (or NULL although one can), or, for a NULL uri (an
    optional part), whose request is NULL or still has the file part. -#}

with

built as (

    select * from {{ ref('test_file_part_mime_types') }}

),

final as (

    select
        uri_id,
        uri,
        expected_mime_type,
        mime_type,
        file_uri,
        request
    from built
    where
        (uri is null and (request is null or file_uri is not null or mime_type is not null))
        or (uri is not null and expected_mime_type is null and request is not null)
        or (
            expected_mime_type is not null
            and not (
                coalesce(mime_type = expected_mime_type, false)
                and coalesce(file_uri = uri, false)
            )
        )

)

select * from final
