{#- The batch step of the demo: one Gemini request per review asking for structured output. Materialized as
    gemini_batch, so this relation is a view over review_insights__requests joined to review_insights__responses, and
    `dbt-gemini-batch run` sends only the reviews never answered before (identical texts share one request).
    Package settings go in `meta` (README, Configuration): dbt warns about custom top-level config keys. -#}
{{
    config(
        materialized='gemini_batch',
        tags=['demo'],
        meta={'gemini_model': 'gemini-2.5-flash'},
    )
}}

{%- set review_schema = {
    'type': 'OBJECT',
    'properties': {
        'sentiment': {'type': 'STRING', 'enum': var('review_sentiments')},
        'topics': {
            'type': 'ARRAY',
            'items': {'type': 'STRING', 'enum': var('review_topics')},
            'maxItems': 4,
        },
        'summary': {'type': 'STRING', 'description': 'One sentence, at most 25 words.'},
    },
    'required': ['sentiment', 'topics', 'summary'],
} -%}

with

reviews as (

    select * from {{ ref('stg_shop__reviews') }}

),

final as (

    select
        review_id,
        product_id,
        rating,
        submitted_at,
        review_text_clean,
        {{ gemini_batch.request(
            prompt='review_text_clean',
            system_instruction="'You read customer reviews of an online shop. Classify the overall sentiment, "
                ~ "list the topics the review talks about, and summarise it in one sentence. "
                ~ "Reviews may be in any language; answer in English.'",
            response_schema=review_schema,
            generation_config={'temperature': 0, 'max_output_tokens': 256},
            labels={'pipeline': "'demo_reviews'"},
        ) }} as request
    from reviews

)

select * from final
