with

reviews as (

    select * from {{ ref('shop_reviews') }}

),

cleaned as (

    select
        cast(review_id as int64) as review_id,
        cast(product_id as int64) as product_id,
        cast(customer_id as int64) as customer_id,
        cast(rating as int64) as rating,
        nullif(trim(review_title), '') as review_title,
        review_text,
        -- One spelling per text: identical reviews then make identical requests (sent once), and stray whitespace
        -- costs no tokens. Line breaks stay (CRLF becomes LF, at most one blank line): they carry list structure.
        trim(
            regexp_replace(
                regexp_replace(
                    regexp_replace(replace(review_text, '\r\n', '\n'), r'[ \t]+', ' '),
                    r' ?\n ?', '\n'
                ),
                r'\n{3,}', '\n\n'
            )
        ) as review_text_clean,
        lower(trim(review_language)) as review_language,
        cast(submitted_at as timestamp) as submitted_at,
        cast(verified_purchase as bool) as is_verified_purchase,
        cast(helpful_votes as int64) as helpful_votes

    from reviews

),

final as (

    select * from cleaned
    -- A review with a rating but no text has nothing to classify; sending it would pay for an empty prompt.
    where coalesce(review_text_clean, '') != ''

)

select * from final
