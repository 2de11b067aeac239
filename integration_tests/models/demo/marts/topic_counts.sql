with

reviews as (

    select * from {{ ref('int_reviews__classified') }}

),

classified_reviews as (

    select * from reviews
    where classification_status = 'classified'

),

classified_total as (

    select count(*) as reviews_classified from classified_reviews

),

topic_mentions as (

    -- int_reviews__classified lists a topic at most once per review: a mention is a review.
    select
        topic,
        count(*) as mentions,
        avg(classified_reviews.rating) as avg_rating,
        countif(classified_reviews.sentiment = 'negative') as negative_mentions

    from classified_reviews
    cross join unnest(classified_reviews.topics) as topic
    group by topic

),

final as (

    select
        topic_mentions.topic,
        topic_mentions.mentions,
        safe_divide(topic_mentions.mentions, classified_total.reviews_classified) as share_of_classified_reviews,
        topic_mentions.avg_rating,
        safe_divide(topic_mentions.negative_mentions, topic_mentions.mentions) as negative_share

    from topic_mentions
    cross join classified_total

)

select * from final
