{#- One row per batch job from the ledger, with the derived fields people ask for first. -#}
with

jobs as (

    select * from {{ source('gemini_batch', 'gemini_batch_jobs') }}

),

final as (

    select
        job_name,
        regexp_extract(job_name, r'batchPredictionJobs/([^/]+)$') as job_id,
        dbt_node,
        regexp_extract(dbt_node, r'[^.]+$') as model_name,
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
        input_table,
        output_table,
        invocation_id,
        submitted_at,
        finished_at,
        collected_at,
        timestamp_diff(finished_at, submitted_at, second) as duration_seconds,
        updated_at
    from jobs

)

select * from final
