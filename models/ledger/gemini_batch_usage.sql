{#- What each dbt invocation used and cost, per gemini_batch model and Gemini model, from the job history (jobs are
    priced there with the price registry). Tokens and cost count collected jobs only; cost_known is false when the
    Gemini model has no price on a job's day, and the cost is then NULL, never a partial sum or 0. -#}
with

jobs as (

    select * from {{ ref('gemini_batch_job_history') }}

),

final as (

    select
        invocation_id,
        dbt_node,
        model_name,
        node_label,
        gemini_model,
        count(*) as jobs,
        countif(is_collected) as jobs_collected,
        countif(is_collected and not is_succeeded) as jobs_not_succeeded,
        sum(request_count) as requests,
        sum(succeeded_count) as answered_rows,
        sum(failed_count) as failed_rows,
        sum(prompt_tokens) as prompt_tokens,
        sum(cached_tokens) as cached_tokens,
        sum(output_tokens) as output_tokens,
        sum(thoughts_tokens) as thoughts_tokens,
        sum(total_tokens) as total_tokens,
        countif(not is_priced) = 0 as cost_known,
        if(countif(not is_priced) = 0, sum(estimated_cost_usd), null) as estimated_cost_usd,
        min(submitted_at) as first_submitted_at,
        max(finished_at) as last_finished_at
    from jobs
    group by 1, 2, 3, 4, 5

)

select * from final
