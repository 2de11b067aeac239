with

products as (

    select * from {{ ref('stg_shop__products') }}

),

reviews as (

    select * from {{ ref('int_reviews__classified') }}

),

review_counts as (

    select
        product_id,
        count(*) as reviews_total,
        countif(classification_status = 'classified') as reviews_classified,
        countif(sentiment = 'positive') as positive_reviews,
        countif(sentiment = 'neutral') as neutral_reviews,
        countif(sentiment = 'negative') as negative_reviews,
        countif(sentiment = 'mixed') as mixed_reviews,
        countif(classification_status = 'failed') as reviews_failed,
        countif(classification_status = 'truncated') as reviews_truncated,
        countif(classification_status = 'blocked') as reviews_blocked,
        countif(classification_status = 'pending') as reviews_pending,
        countif(classification_status = 'unparsable') as reviews_unparsable,
        avg(rating) as avg_rating

    from reviews
    group by product_id

),

final as (

    select
        products.product_id,
        products.product_name,
        products.category,
        coalesce(review_counts.reviews_total, 0) as reviews_total,
        coalesce(review_counts.reviews_classified, 0) as reviews_classified,
        coalesce(review_counts.positive_reviews, 0) as positive_reviews,
        coalesce(review_counts.neutral_reviews, 0) as neutral_reviews,
        coalesce(review_counts.negative_reviews, 0) as negative_reviews,
        coalesce(review_counts.mixed_reviews, 0) as mixed_reviews,
        -- Shares of the classified reviews: a review that was not classified has no sentiment to share.
        safe_divide(review_counts.positive_reviews, review_counts.reviews_classified) as positive_share,
        safe_divide(review_counts.neutral_reviews, review_counts.reviews_classified) as neutral_share,
        safe_divide(review_counts.negative_reviews, review_counts.reviews_classified) as negative_share,
        safe_divide(review_counts.mixed_reviews, review_counts.reviews_classified) as mixed_share,
        review_counts.avg_rating,
        coalesce(review_counts.reviews_failed, 0) as reviews_failed,
        coalesce(review_counts.reviews_truncated, 0) as reviews_truncated,
        coalesce(review_counts.reviews_blocked, 0) as reviews_blocked,
        coalesce(review_counts.reviews_pending, 0) as reviews_pending,
        coalesce(review_counts.reviews_unparsable, 0) as reviews_unparsable

    from products
    left join review_counts
        on products.product_id = review_counts.product_id

)

select * from final
