with

media as (

    select * from {{ ref('shop_product_media') }}

),

final as (

    select
        cast(product_id as int64) as product_id,
        trim(media_uri) as media_uri,
        lower(trim(mime_type)) as mime_type

    from media

)

select * from final
