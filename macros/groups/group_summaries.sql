{#- Group summaries, the result: one row per group of the chunk model, with `summary` = its single chunk's answer, or
    the answer of the combining model (group_summary_inputs) for a group of several chunks; NULL while a round is
    pending. summarised_by says which round answered (chunk, combined), chunks how many chunks the group has. -#}
{% macro group_summaries(chunk_relation, combined_relation) %}
    select
        chunked.group_key,
        chunked.chunks,
        case
            when chunked.chunks = 1 then chunked.single_summary
            else {{ gemini_batch.response_text('combined.response') }}
        end as summary,
        case
            when chunked.chunks = 1 and chunked.single_summary is not null then 'chunk'
            when combined.group_key is not null then 'combined'
        end as summarised_by
    from (
        select
            group_key,
            count(*) as chunks,
            max(if(chunk = 0 and output_state = 'answered', {{ gemini_batch.response_text('response') }}, null))
                as single_summary
        from {{ chunk_relation }}
        group by group_key
    ) as chunked
    left join {{ combined_relation }} as combined
        on chunked.group_key = combined.group_key and combined.output_state = 'answered'
{% endmacro %}
