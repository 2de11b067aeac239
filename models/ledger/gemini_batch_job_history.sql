{#- One row per batch job from the ledger (its latest state event), with the derived fields people ask for first, and its estimated cost:
    the job's tokens priced with the registry row of its Gemini model on the day it finished (price_list(): Vertex's
    list, else the Gemini Developer API's, named in price_list; a model without a price gets a NULL cost and
    is_priced = false, never a cost of 0; a create Vertex refused costs 0). -#}
with

jobs as (

    -- the ledger is append-only: a job's state is its latest event
    select * from {{ source('gemini_batch', 'gemini_batch_jobs') }}
    qualify row_number() over (partition by input_table order by updated_at desc) = 1

),

prices as (

    select
        price.gemini_model,
        price.price_list,
        price.effective_from,
        price.effective_to,
        price.input_usd_per_1m,
        price.output_usd_per_1m,
        price.thinking_usd_per_1m,
        price.cached_input_usd_per_1m,
        price.input_long_usd_per_1m,
        price.output_long_usd_per_1m,
        price.cached_input_long_usd_per_1m,
        price.batch_discount
    from unnest({{ gemini_batch.price_list() }}) as price

),

priced as (

    select
        jobs.*,
        -- the model's name as a label value (labels.label_value: lower case, [a-z0-9_-]); shortened below
        regexp_replace(lower(regexp_extract(jobs.dbt_node, r'[^.]+$')), r'[^a-z0-9_-]', '_') as label_text,
        -- a create Vertex refused (state REFUSED, e.g. a model that does not exist) made no job and bills nothing:
        -- its cost is known, 0, whatever the price registry says about the model
        price.gemini_model is not null or jobs.state = 'REFUSED' as is_priced,
        price.price_list,
        if(jobs.state = 'REFUSED', 0, {{ gemini_batch.token_cost('jobs', 'price', batch=true) }}) as batch_cost_usd,
        if(jobs.state = 'REFUSED', 0, {{ gemini_batch.token_cost('jobs', 'price', batch=false) }}) as online_cost_usd
    from jobs
    left join prices as price
        -- a tuned model or a versioned name the registry does not list stays unpriced
        on
            regexp_replace(jobs.gemini_model, r'^(publishers/google/models/|models/)', '') = price.gemini_model
            and date(coalesce(jobs.finished_at, jobs.submitted_at))
            between coalesce(price.effective_from, date '0001-01-01')
            and coalesce(price.effective_to, date '9999-12-31')
    -- Vertex's price when the registry has one, else the Developer API's (a model has one row per list and day)
    qualify row_number() over (partition by jobs.input_table order by if(price.price_list = 'vertex', 0, 1)) = 1

),

final as (

    select
        job_name,
        regexp_extract(job_name, r'batchPredictionJobs/([^/]+)$') as job_id,
        -- batch: a Vertex batch job; inline: a dbt run that answered with AI.GENERATE (answer_with)
        coalesce(kind, 'batch') as kind,
        dbt_node,
        regexp_extract(dbt_node, r'[^.]+$') as model_name,
        -- the jobs' dbt_node label, as the hook makes it (labels.label_value): past 63 characters, the first 54, '-'
        -- and 8 hex digits of the SHA-256 of the whole value, so two long names sharing 63 characters stay apart
        if(
            length(label_text) <= 63,
            label_text,
            concat(substr(label_text, 1, 54), '-', substr(to_hex(sha256(label_text)), 1, 8))
        ) as node_label,
        gemini_model,
        vertex_project,
        vertex_location,
        replace(state, 'JOB_STATE_', '') as state,
        state in ('JOB_STATE_SUCCEEDED', 'JOB_STATE_PARTIALLY_SUCCEEDED') as is_succeeded,
        collected_at is not null as is_collected,
        error,
        request_count,
        succeeded_count,
        failed_count,
        prompt_tokens,
        output_tokens,
        thoughts_tokens,
        cached_tokens,
        total_tokens,
        missing_count,
        mismatched_count,
        is_priced,
        price_list,
        long_context_prompt_tokens,
        long_context_output_tokens,
        long_context_thoughts_tokens,
        long_context_cached_tokens,
        -- tokens are known once the output is collected
        if(collected_at is null, null, batch_cost_usd) as estimated_cost_usd,
        if(collected_at is null, null, online_cost_usd) as online_price_equivalent_usd,
        input_table,
        output_table,
        invocation_id,
        submitted_at,
        finished_at,
        collected_at,
        timestamp_diff(finished_at, submitted_at, second) as duration_seconds,
        updated_at
    from priced

)

select * from final
