{% macro _json_output_text(response, expression='gemini_batch_output_text') -%}
    {#- A scalar subquery evaluating `expression` over `gemini_batch_output_text`: the texts of candidates[0].content.parts
        joined in order. Parts with "thought": true are thought summaries, not the answer; string_agg skips parts without
        text (functionCall, inlineData) and yields NULL when no text is left (a SAFETY block has no content at all).
        JSON_QUERY_ARRAY / JSON_VALUE take a JSON or a STRING argument on BigQuery and bqemulator alike, so `response`
        may be the output table's JSON column or JSON text.
        Why the derived table: every SAFE. function (SAFE.PARSE_JSON, SAFE_CAST) is applied to a plain column here, never
        to an aggregate or a subquery. BigQuery accepts either; bqemulator runs on DuckDB, whose TRY() rejects both. -#}
    (
        select {{ expression }}
        from (
            select string_agg(json_value(gemini_batch_part, '$.text'), '' order by gemini_batch_part_index) as gemini_batch_output_text
            from unnest(json_query_array({{ response }}, '$.candidates[0].content.parts')) as gemini_batch_part
                with offset as gemini_batch_part_index
            where coalesce(json_value(gemini_batch_part, '$.thought'), 'false') != 'true'
        )
    )
{%- endmacro %}
