{{ config(materialized='table', tags=['macro_tests']) }}

{#- Every parse macro applied to the response fixtures, twice: on a JSON column (what Vertex writes to the output table)
    and on the same response as JSON text in a STRING column. Expected values are hand-written in
    macro_tests__parse_expected; tests/macro_tests/assert_parse_macros_match_expected.sql compares them. -#}

with

fixtures as (

    select
        row_id,
        {#- A seed cannot hold '' (it loads as NULL): the fixture spells the success status as a marker. -#}
        if(status = '(empty string)', '', status) as status,
        parse_json(response_json) as response_json_value,
        response_json as response_json_text
    from {{ ref('macro_tests__parse_responses') }}

),

{% for input_type, response_column in [('json', 'response_json_value'), ('string', 'response_json_text')] %}
    parsed_{{ input_type }} as (

        select
            row_id,
            '{{ input_type }}' as response_input_type,
            {{ gemini_batch.response_state('status', response_column) }} as response_state,
            {{ gemini_batch.error_message('status', response_column) }} as error_message,
            {{ gemini_batch.response_text(response_column) }} as response_text,
            {{ gemini_batch.response_is_parsable(response_column) }} as is_parsable,
            {{ gemini_batch.response_json_value('$.sentiment', response=response_column) }} as sentiment,
            {{ gemini_batch.response_json_value('$.score', 'float64', response_column) }} as score,
            {{ gemini_batch.response_json_value('$.count', 'int64', response_column) }} as item_count,
            {{ gemini_batch.response_json_value('$.is_spam', 'bool', response_column) }} as is_spam,
            {{ gemini_batch.response_json_value('$.price', 'numeric', response_column) }} as price,
            {{ gemini_batch.response_json_value('$.published', 'date', response_column) }} as published,
            {{ gemini_batch.response_json_value('$.seen_at', 'timestamp', response_column) }} as seen_at,
            {{ gemini_batch.response_json_value('$.details.channel', 'string', response_column) }} as channel,
            {{ gemini_batch.response_json_array('$.tags', response_column) }} as tag_array,
            {{ gemini_batch.finish_reason(response_column) }} as finish_reason,
            {{ gemini_batch.block_reason(response_column) }} as block_reason,
            {{ gemini_batch.is_blocked(response_column) }} as is_blocked,
            {{ gemini_batch.token_count('prompt', response_column) }} as prompt_tokens,
            {{ gemini_batch.token_count('candidates', response_column) }} as candidates_tokens,
            {{ gemini_batch.token_count('thoughts', response_column) }} as thoughts_tokens,
            {{ gemini_batch.token_count('total', response_column) }} as total_tokens,
            {{ gemini_batch.token_count('cached', response_column) }} as cached_tokens,
            {{ gemini_batch.token_count('tool_use_prompt', response_column) }} as tool_use_prompt_tokens,
            {{ gemini_batch.model_version(response_column) }} as model_version
        from fixtures

    ),

{% endfor %}
parsed as (

    select * from parsed_json
    union all
    select * from parsed_string

),

final as (

    select
        * except (tag_array),
        {#- Measured here, inside the query: a table cannot store a NULL array (BigQuery writes []), so a macro that
            returned NULL would go unnoticed after materialization. -#}
        nullif(array_to_string(tag_array, '|'), '') as tags,
        array_length(tag_array) as tag_count
    from parsed

)

select * from final
