{#- Group summaries, round 2: per group with more than one chunk, the answers of its chunks (a gemini_batch model over
    group_chunks) joined in chunk order, once every chunk of the group is answered; a group of one chunk needs no
    second round (group_summaries takes its chunk's answer). Columns: group_key, chunks, summaries_text. A group
    whose summaries_text is still too long for one prompt can go through group_chunks again (a third round). -#}
{% macro group_summary_inputs(chunk_relation) %}
    select
        group_key,
        count(*) as chunks,
        string_agg(coalesce({{ gemini_batch.response_text('response') }}, ''), '\n\n' order by chunk) as summaries_text
    from {{ chunk_relation }}
    group by group_key
    having count(*) > 1 and countif(output_state = 'answered') = count(*)
{% endmacro %}
