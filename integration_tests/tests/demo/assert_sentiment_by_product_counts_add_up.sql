{{ config(tags=['demo']) }}

-- Per product, the sentiments add up to the classified reviews and the reasons add up to all reviews; over all
-- products, the reviews add up to review_pipeline_health's. Returns the products (or the total) that do not.
with

sentiment_by_product as (

    select * from {{ ref('sentiment_by_product') }}

),

review_pipeline_health as (

    select * from {{ ref('review_pipeline_health') }}

),

products_off as (

    select
        cast(product_id as string) as checked,
        reviews_total as expected,
        reviews_classified + reviews_failed + reviews_truncated + reviews_blocked + reviews_pending
        + reviews_unparsable as actual
    from sentiment_by_product
    where
        reviews_total
        != reviews_classified + reviews_failed + reviews_truncated + reviews_blocked + reviews_pending
        + reviews_unparsable
        or reviews_classified != positive_reviews + neutral_reviews + negative_reviews + mixed_reviews

),

product_totals as (

    select coalesce(sum(reviews_total), 0) as reviews from sentiment_by_product

),

health_totals as (

    select coalesce(sum(reviews), 0) as reviews from review_pipeline_health

),

totals_off as (

    select
        'all products' as checked,
        health_totals.reviews as expected,
        product_totals.reviews as actual
    from health_totals
    cross join product_totals
    where health_totals.reviews != product_totals.reviews

),

final as (

    select * from products_off
    union all
    select * from totals_off

)

select * from final
