{#- What the demo's batch jobs used and cost, per Gemini model, from the package's ledger models. The ledger only
    changes when the hook collects review_insights' jobs, which dbt cannot see from the refs below: the explicit
    dependency makes this table wait for them. -#}
-- depends_on: {{ ref('review_insights') }}
with

usage_daily as (

    select * from {{ ref('gemini_batch', 'gemini_batch_usage_daily') }}

),

final as (

    select
        gemini_model,
        min(usage_date) as first_day,
        max(usage_date) as last_day,
        sum(jobs) as jobs,
        sum(jobs_not_succeeded) as jobs_not_succeeded,
        sum(requests) as requests,
        sum(answered_rows) as answered_rows,
        sum(failed_rows) as failed_rows,
        sum(prompt_tokens) as prompt_tokens,
        sum(output_tokens) as output_tokens,
        sum(thoughts_tokens) as thoughts_tokens,
        sum(estimated_cost_usd) as estimated_cost_usd,
        sum(online_price_equivalent_usd) as online_price_equivalent_usd
    from usage_daily
    group by gemini_model

)

select * from final
