{#- Unusable answers are failed attempts: an answer of the current requests that _answer_state calls truncated
    (MAX_TOKENS) or invalid_output gets the status 'unusable answer: <state>' in m__responses, its response kept (it
    was paid for). The hook then treats it like any failed row: it is sent again until max_attempts (the pending
    rule in gemini_batch/batch/plan.py and the collect MERGE, which overwrites any non-'' status), and counted as
    given up after that. Only hashes of the new m__requests are judged: their requests carry the current schema
    (it is part of request_hash), older answers in the cache were asked with another one.
    Run by the materialization before the hook plans, so answers merged by the previous run are judged before the
    next run sends. A no-op unless retry_unusable_answers (default true). -#}
{% macro _mark_unusable_answers(requests_relation, responses_relation, output_schema) %}
    {%- set prefix = gemini_batch._unusable_status_prefix() -%}
    {%- call statement('gemini_batch_mark_unusable') -%}
        merge {{ responses_relation }} as target
        using (
            select
                request_hash,
                {{ gemini_batch._answer_state(output_schema) }} as output_state
            from ({{ gemini_batch.parsed_response(responses_relation) }})
            where status = ''
                and request_hash in (select request_hash from {{ requests_relation }})
        ) as judged
        on target.request_hash = judged.request_hash
        when matched and target.status = '' and judged.output_state in ('truncated', 'invalid_output') then update set
            status = concat('{{ prefix }}', judged.output_state),
            updated_at = current_timestamp()
    {%- endcall -%}
{% endmacro %}
