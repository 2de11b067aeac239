with

products as (

    select * from {{ ref('shop_products') }}

),

final as (

    select
        cast(product_id as int64) as product_id,
        trim(product_name) as product_name,
        lower(trim(category)) as category,
        cast(price_usd as numeric) as price_usd,
        cast(launched_on as date) as launched_on

    from products

)

select * from final
