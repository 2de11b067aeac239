{#- review_insights has an output_schema, so its view already has the typed answer columns (sentiment, topics,
    summary) and output_state, which says what became of each review: nothing is extracted by hand here. An answer
    whose sentiment is off the vars' enum, or that is not JSON, is invalid_output there (NULL typed columns) and
    counts as unparsable here. -#}
{%- set topics = var('review_topics') -%}

with

review_insights as (

    select * from {{ ref('review_insights') }}

),

statuses as (

    select
        *,
        -- The demo's status names for the package's output_state (the first reason that applies wins there).
        case output_state
            when 'answered' then 'classified'
            when 'invalid_output' then 'unparsable'
            else output_state
        end as classification_status

    from review_insights

),

final as (

    select
        review_id,
        product_id,
        rating,
        submitted_at,
        case output_state
            when 'pending' then 'pending'
            when 'failed' then 'failed'
            else 'succeeded'
        end as response_state,
        classification_status,
        output_state,
        given_up,
        if(classification_status = 'classified', sentiment, null) as sentiment,
        -- Each topic once per review, so a topic's count is a count of reviews; a label off the list (only in an
        -- answer that is not classified anyway) would count as other.
        array(
            select distinct
                if(
                    lower(trim(answered_topic)) in ('{{ topics | join("', '") }}'),
                    lower(trim(answered_topic)),
                    'other'
                ) as topic
            from unnest(topics) as answered_topic
            where classification_status = 'classified'
            order by topic
        ) as topics,
        if(classification_status = 'classified', trim(summary), null) as summary,
        {{ gemini_batch.finish_reason() }} as finish_reason,
        {{ gemini_batch.is_blocked() }} as is_blocked,
        {{ gemini_batch.block_reason() }} as block_reason,
        {{ gemini_batch.token_count('prompt') }} as prompt_tokens,
        {{ gemini_batch.token_count('candidates') }} as output_tokens,
        {{ gemini_batch.token_count('thoughts') }} as thoughts_tokens,
        {{ gemini_batch.token_count('total') }} as total_tokens,
        {{ gemini_batch.model_version() }} as model_version,
        if(output_state = 'failed', output_error, null) as error_message

    from statuses

)

select * from final
