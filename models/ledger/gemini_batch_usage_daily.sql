{#- Tokens and estimated cost per day and Gemini model. Cost uses gemini_batch.price_list() (var gemini_batch_prices,
    online USD per 1M tokens) at the batch rate (var gemini_batch_discount, 50% by default). Cached input tokens get the implicit-cache discount
    (90%) instead of the batch one: Google does not stack the two. Thinking tokens bill as output. A model missing from
    the price list gets a NULL cost, never a guessed one. -#}
{%- set batch_rate = var('gemini_batch_discount', 0.5) -%}
{%- set cache_rate = var('gemini_batch_cached_input_rate', 0.1) -%}

with

jobs as (

    select * from {{ ref('gemini_batch_job_history') }}
    where is_collected

),

prices as (

    select
        price.gemini_model,
        price.input_usd_per_1m,
        price.output_usd_per_1m
    from unnest({{ gemini_batch.price_list() }}) as price

),

daily as (

    select
        date(jobs.finished_at) as usage_date,
        jobs.gemini_model,
        count(*) as jobs,
        countif(not jobs.is_succeeded) as jobs_not_succeeded,
        sum(jobs.request_count) as requests,
        sum(jobs.succeeded_count) as answered_rows,
        sum(jobs.failed_count) as failed_rows,
        sum(jobs.prompt_tokens) as prompt_tokens,
        sum(jobs.cached_tokens) as cached_tokens,
        sum(jobs.output_tokens) as output_tokens,
        sum(jobs.thoughts_tokens) as thoughts_tokens,
        sum(jobs.total_tokens) as total_tokens
    from jobs
    group by 1, 2

),

final as (

    select
        daily.*,
        prices.input_usd_per_1m is not null as is_priced,
        round(
            (
                (daily.prompt_tokens - daily.cached_tokens) * prices.input_usd_per_1m * {{ batch_rate }}
                + daily.cached_tokens * prices.input_usd_per_1m * {{ cache_rate }}
                + (daily.output_tokens + daily.thoughts_tokens) * prices.output_usd_per_1m * {{ batch_rate }}
            ) / 1000000,
            6
        ) as estimated_cost_usd,
        round(
            (
                daily.prompt_tokens * prices.input_usd_per_1m
                + (daily.output_tokens + daily.thoughts_tokens) * prices.output_usd_per_1m
            ) / 1000000,
            6
        ) as online_price_equivalent_usd
    from daily
    left join prices
        on daily.gemini_model = prices.gemini_model

)

select * from final
