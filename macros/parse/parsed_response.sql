{% macro parsed_response(relation, response='response') -%}
    {#- A SELECT for a CTE: every column of `relation` (a ref(), a CTE name) plus the answer parsed once per row:
        gemini_batch_output_text (STRING, the text of candidates[0] without thought parts, see response_text) and
        gemini_batch_output (JSON, that text parsed; NULL when it is not JSON). The field macros called with
        parsed=true, output_schema_columns() and output_state() read these two columns instead of rebuilding and
        re-parsing the answer for every field.
        Why two levels: the parse must read the text column of a derived table, because bqemulator (DuckDB's TRY)
        cannot apply SAFE.PARSE_JSON to a subquery; BigQuery accepts either. -#}
    select
        gemini_batch_answers.*,
        safe.parse_json(gemini_batch_answers.gemini_batch_output_text, wide_number_mode => 'round') as gemini_batch_output
    from (
        select
            gemini_batch_rows.*,
            {{ gemini_batch._json_output_text(response) }} as gemini_batch_output_text
        from {{ relation }} as gemini_batch_rows
    ) as gemini_batch_answers
{%- endmacro %}
