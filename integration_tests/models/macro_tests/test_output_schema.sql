{{ config(materialized='table', tags=['macro_tests']) }}

{#- output_schema_columns() and output_state() over answers parsed once by parsed_response(), for a schema using every
    type family and several spellings of their names. A few fields are read again with response_json_value() under
    other spellings of the same type, both from the parsed columns and from the raw response, to show they agree, and
    the state is judged again from the responseSchema derived from the schema.
    Expected values: macro_tests__output_expected. -#}
{%- set output_schema -%}
    sentiment STRING OPTIONS(description='Overall tone', enum=['positive', 'negative', 'neutral']),
    score FLOAT64,
    stars INTEGER,
    is_spam BOOLEAN,
    price DECIMAL(10, 2),
    published DATE,
    seen_at TIMESTAMP,
    topics ARRAY<STRING>,
    counts ARRAY<INT>,
    product STRUCT<name STRING, sku STRING OPTIONS(required=false)>,
    note STRING OPTIONS(required=false, nullable=true)
{%- endset -%}

with

responses as (

    select
        row_id,
        {#- A seed cannot hold '' (it loads as NULL): the fixture spells the success status as a marker. -#}
        if(status = '(empty string)', '', status) as status,
        parse_json(response_json) as response
    from {{ ref('macro_tests__output_responses') }}

),

parsed as (

    {{ gemini_batch.parsed_response('responses') }}

),

typed as (

    select
        row_id,
        {{ gemini_batch.output_state(output_schema) }} as output_state,
        {#- The same schema as the responseSchema request() sends: typed checks must not depend on the form given. -#}
        {{ gemini_batch.output_state(gemini_batch.output_schema_response_schema(output_schema)) }}
            as output_state_from_response_schema,
        {{ gemini_batch.output_schema_columns(output_schema) }},
        {{ gemini_batch.response_json_value('$.stars', 'BIGINT', parsed=true) }} as stars_as_bigint,
        {{ gemini_batch.response_json_value('$.score', 'float', parsed=true) }} as score_as_float,
        {{ gemini_batch.response_json_value('$.is_spam', 'BOOL', parsed=true) }} as is_spam_as_bool,
        {{ gemini_batch.response_json_value('$.published', 'Date') }} as published_unparsed,
        {{ gemini_batch.response_json_value('$.product', 'STRUCT<name STRING>') }} as product_unparsed,
        {{ gemini_batch.response_json_value('$.counts', 'ARRAY<SMALLINT>') }} as counts_unparsed
    from parsed

),

final as (

    select
        row_id,
        output_state,
        output_state_from_response_schema,
        sentiment,
        score,
        stars,
        is_spam,
        price,
        published,
        seen_at,
        nullif(array_to_string(topics, '|'), '') as topics,
        nullif(array_to_string(array(
            select cast(item as string)
            from unnest(counts) as item with offset as item_index
            order by item_index
        ), '|'), '') as counts,
        product.name as product_name,
        product.sku as product_sku,
        note,
        stars_as_bigint,
        score_as_float,
        is_spam_as_bool,
        published_unparsed,
        product_unparsed.name as product_name_unparsed,
        nullif(array_to_string(array(
            select cast(item as string)
            from unnest(counts_unparsed) as item with offset as item_index
            order by item_index
        ), '|'), '') as counts_unparsed
    from typed

)

select * from final
