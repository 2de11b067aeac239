{{ config(tags=['demo']) }}

-- Every review that staging keeps must land in exactly one classification_status: if review_insights or the marts
-- lost or duplicated a row, the counts stop adding up. Returns a row (fails) when they differ.
with

staged_reviews as (

    select count(*) as reviews from {{ ref('stg_shop__reviews') }}

),

health as (

    select sum(reviews) as reviews from {{ ref('review_pipeline_health') }}

),

final as (

    select
        staged_reviews.reviews as staged_reviews,
        health.reviews as reviews_in_health

    from staged_reviews
    cross join health
    where staged_reviews.reviews != coalesce(health.reviews, 0)

)

select * from final
