{#- The enums of the response schema that review_insights asks Gemini to follow. The schema makes other values rare,
    but an answer that breaks it is counted as unparsable, not guessed at. -#}
{%- set sentiments = var('review_sentiments') -%}
{%- set topics = var('review_topics') -%}

with

review_insights as (

    select * from {{ ref('review_insights') }}

),

answers as (

    {#- Each review's answer text built and parsed once (gemini_batch_output_text, gemini_batch_output); the field
        macros below read those columns with parsed=true instead of re-parsing the answer per field. -#}
    {{ gemini_batch.parsed_response('review_insights') }}

),

parsed as (

    select
        review_id,
        product_id,
        rating,
        submitted_at,
        {{ gemini_batch.response_state() }} as response_state,
        {{ gemini_batch.finish_reason() }} as finish_reason,
        {{ gemini_batch.is_blocked() }} as is_blocked,
        {{ gemini_batch.block_reason() }} as block_reason,
        {{ gemini_batch.response_is_parsable(parsed=true) }} as output_parsable,
        lower(trim({{ gemini_batch.response_json_value('$.sentiment', parsed=true) }})) as answered_sentiment,
        {{ gemini_batch.response_json_array('$.topics', parsed=true) }} as answered_topics,
        trim({{ gemini_batch.response_json_value('$.summary', parsed=true) }}) as answered_summary,
        {{ gemini_batch.token_count('prompt') }} as prompt_tokens,
        {{ gemini_batch.token_count('candidates') }} as output_tokens,
        {{ gemini_batch.token_count('thoughts') }} as thoughts_tokens,
        {{ gemini_batch.token_count('total') }} as total_tokens,
        {{ gemini_batch.model_version() }} as model_version,
        {{ gemini_batch.error_message('status', 'response') }} as error_message

    from answers

),

statuses as (

    select
        *,
        -- The first reason that applies wins: a blocked or truncated answer is usually unparsable too, and the root
        -- cause is what someone has to act on.
        case
            when response_state = 'pending' then 'pending'
            when response_state = 'failed' then 'failed'
            when is_blocked then 'blocked'
            when finish_reason = 'MAX_TOKENS' then 'truncated'
            when not coalesce(output_parsable, false) then 'unparsable'
            when coalesce(answered_sentiment, '') not in ('{{ sentiments | join("', '") }}') then 'unparsable'
            else 'classified'
        end as classification_status

    from parsed

),

final as (

    select
        review_id,
        product_id,
        rating,
        submitted_at,
        response_state,
        classification_status,
        if(classification_status = 'classified', answered_sentiment, null) as sentiment,
        -- Each topic once per review, so a topic's count is a count of reviews; a label off the list counts as other.
        array(
            select distinct
                if(
                    lower(trim(answered_topic)) in ('{{ topics | join("', '") }}'),
                    lower(trim(answered_topic)),
                    'other'
                ) as topic
            from unnest(answered_topics) as answered_topic
            where classification_status = 'classified'
            order by topic
        ) as topics,
        if(classification_status = 'classified', answered_summary, null) as summary,
        finish_reason,
        is_blocked,
        block_reason,
        output_parsable,
        prompt_tokens,
        output_tokens,
        thoughts_tokens,
        total_tokens,
        model_version,
        error_message

    from statuses

)

select * from final
