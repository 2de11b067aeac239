with

reviews as (

    select * from {{ ref('int_reviews__classified') }}

),

-- Every status gets a row, zero included, so "no failures" is a visible 0 rather than a missing row.
expected_statuses as (

    select classification_status
    from unnest(['classified', 'truncated', 'blocked', 'failed', 'pending', 'unparsable']) as classification_status

),

status_counts as (

    select
        classification_status,
        count(*) as reviews,
        sum(prompt_tokens) as prompt_tokens,
        sum(output_tokens) as output_tokens,
        sum(thoughts_tokens) as thoughts_tokens,
        sum(total_tokens) as total_tokens,
        min(submitted_at) as first_submitted_at,
        max(submitted_at) as last_submitted_at,
        array_agg(review_id order by review_id limit 5) as sample_review_ids,
        min(error_message) as sample_error_message

    from reviews
    group by classification_status

),

final as (

    -- A full join, so a status the list above does not know still shows up (and fails the accepted_values test).
    select
        coalesce(
            expected_statuses.classification_status, status_counts.classification_status
        ) as classification_status,
        coalesce(status_counts.reviews, 0) as reviews,
        safe_divide(coalesce(status_counts.reviews, 0), sum(status_counts.reviews) over ()) as share_of_reviews,
        coalesce(status_counts.prompt_tokens, 0) as prompt_tokens,
        coalesce(status_counts.output_tokens, 0) as output_tokens,
        coalesce(status_counts.thoughts_tokens, 0) as thoughts_tokens,
        coalesce(status_counts.total_tokens, 0) as total_tokens,
        status_counts.first_submitted_at,
        status_counts.last_submitted_at,
        status_counts.sample_review_ids,
        status_counts.sample_error_message

    from expected_statuses
    full outer join status_counts
        on expected_statuses.classification_status = status_counts.classification_status

)

select * from final
