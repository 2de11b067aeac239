{#- Tokens and estimated cost per day (the day jobs finished, UTC) and Gemini model, over collected jobs. Each job is
    priced in gemini_batch_job_history with the price registry (price_list(), var gemini_batch_prices); a day with any
    unpriced job gets a NULL cost, never a partial one. -#}
with

jobs as (

    select * from {{ ref('gemini_batch_job_history') }}
    where is_collected

),

final as (

    select
        date(finished_at) as usage_date,
        gemini_model,
        count(*) as jobs,
        countif(not is_succeeded) as jobs_not_succeeded,
        sum(request_count) as requests,
        sum(succeeded_count) as answered_rows,
        sum(failed_count) as failed_rows,
        sum(prompt_tokens) as prompt_tokens,
        sum(cached_tokens) as cached_tokens,
        sum(output_tokens) as output_tokens,
        sum(thoughts_tokens) as thoughts_tokens,
        sum(total_tokens) as total_tokens,
        countif(not is_priced) = 0 as is_priced,
        if(countif(not is_priced) = 0, sum(estimated_cost_usd), null) as estimated_cost_usd,
        if(countif(not is_priced) = 0, sum(online_price_equivalent_usd), null) as online_price_equivalent_usd
    from jobs
    group by 1, 2

)

select * from final
