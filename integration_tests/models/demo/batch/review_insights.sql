{#- The batch step of the demo: one Gemini request per review asking for structured output. Materialized as
    gemini_batch, so this relation is a view over review_insights__requests joined to review_insights__responses, and
    `dbt-gemini-batch run` sends only the reviews never answered before (identical texts share one request).
    Package settings go in `meta` (README, Configuration): dbt warns about custom top-level config keys.
    output_schema (README, Typed answers) does what a hand-built response_schema did, and more: request() derives the
    responseSchema Gemini follows (enum values as the vars give them), and this view gets the typed columns sentiment,
    topics and summary plus output_state, output_error and given_up, so int_reviews__classified extracts nothing by
    hand. An enum on an ARRAY<STRING> constrains each item; output_schema has no maxItems, so the limit of 4 topics is in
    the field's description. -#}
{{
    config(
        materialized='gemini_batch',
        tags=['demo'],
        meta={
            'gemini_model': 'gemini-2.5-flash',
            'output_schema': {
                'sentiment': {
                    'type': 'STRING',
                    'enum': var('review_sentiments'),
                    'description': 'The overall sentiment of the review.',
                },
                'topics': {
                    'type': 'ARRAY<STRING>',
                    'enum': var('review_topics'),
                    'description': 'At most 4 topics the review talks about.',
                },
                'summary': {'type': 'STRING', 'description': 'One sentence, at most 25 words.'},
            },
        },
    )
}}

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
            generation_config={'temperature': 0, 'max_output_tokens': 256},
            labels={'pipeline': "'demo_reviews'"},
        ) }} as request
    from reviews

)

select * from final
