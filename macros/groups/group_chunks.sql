{#- Group summaries, round 1 (README "Group summaries"): the rows of `relation` as chunks per group, each small enough
    for one prompt. A chunk is the group's rows in `order_by` order, cut where their text passes `max_chars`, so a
    group's chunks change only when its own rows change: the requests of a gemini_batch model over these chunks keep
    their hashes (and their paid answers) for every group whose rows did not change. Columns: group_key (STRING),
    chunk (0, 1, ...), rows_in_chunk, chunk_text (the rows' texts, one per line). A single row longer than
    max_chars is a chunk of its own. -#}
{% macro group_chunks(relation, group_by, text, order_by, max_chars=200000) %}
    {%- if max_chars is not number or max_chars < 1 -%}
        {{ exceptions.raise_compiler_error('gemini_batch.group_chunks: max_chars must be a positive number of '
            ~ 'characters, got ' ~ max_chars) }}
    {%- endif -%}
    select
        group_key,
        gemini_batch_chunk as chunk,
        count(*) as rows_in_chunk,
        string_agg(gemini_batch_text, '\n' order by gemini_batch_position) as chunk_text
    from (
        select
            group_key,
            gemini_batch_text,
            gemini_batch_position,
            -- the characters before this row, over the chunk size; floor of a FLOAT64 division rather than DIV(), which
            -- bqemulator (1.4) does not compute as BigQuery does
            cast(floor((gemini_batch_running_chars - length(gemini_batch_text) - 1) / {{ max_chars }}) as int64)
                as gemini_batch_chunk
        from (
            select
                group_key,
                gemini_batch_text,
                gemini_batch_position,
                sum(length(gemini_batch_text) + 1) over (
                    partition by group_key order by gemini_batch_position
                    rows between unbounded preceding and current row
                ) as gemini_batch_running_chars
            from (
                select
                    cast({{ group_by }} as string) as group_key,
                    coalesce(cast({{ text }} as string), '') as gemini_batch_text,
                    row_number() over (partition by cast({{ group_by }} as string) order by {{ order_by }})
                        as gemini_batch_position
                from {{ relation }}
            )
        )
    )
    group by group_key, gemini_batch_chunk
{% endmacro %}
