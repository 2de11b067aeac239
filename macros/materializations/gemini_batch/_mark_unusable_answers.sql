{#- Unusable answers are failed attempts: an answer of the current requests that _answer_state calls truncated
    (MAX_TOKENS) or invalid_output gets the status 'unusable answer: <state>' in m__responses, its response kept (it
    was paid for). The hook then treats it like any failed row: it is sent again until max_attempts (the pending
    rule in gemini_batch/batch/plan.py and the collect MERGE, which overwrites any non-'' status), and counted as
    given up after that. Only hashes of the new m__requests are judged: their requests carry the current schema
    (it is part of request_hash), older answers in the cache were asked with another one.
    Each answer is judged once: `judged_at` records the updated_at of the answer judged (a new answer of the hash
    changes updated_at, so it is judged again). The hook judges each job's answers in the statement that writes them,
    through m__collected_judged (gemini_batch/batch/judge.py); this step catches the rest (answers merged while
    retry_unusable_answers was off, or by an older version of the package), so an unchanged re-run parses no answer.
    An output_schema setting changed without changing the requests (a model that writes its request JSON by hand)
    re-types the view's columns but does not re-judge answers already judged.
    A no-op unless retry_unusable_answers (default true). Returns true when it judged answers (and so may have
    changed what is pending), false when there were none to judge. -#}
{% macro _mark_unusable_answers(requests_relation, responses_relation, output_schema, unjudged_count=none) %}
    {%- do gemini_batch._add_judged_at_column(responses_relation) -%}
    {%- set prefix = gemini_batch._unusable_status_prefix() -%}
    {%- set unjudged -%}
        (
            select *
            from {{ responses_relation }}
            where status = ''
                and (judged_at is null or judged_at != updated_at)
                and request_hash in (select request_hash from {{ requests_relation }})
        )
    {%- endset -%}
    {#- Usually nothing is left to judge: a count (a query) instead of a MERGE (a DML job that rewrites the table on
        bqemulator and scans it on BigQuery) when so. The counts name their columns: on-demand BigQuery bills the
        status, judged_at and updated_at columns (18 bytes a row) for the first, which finds nothing unjudged in the
        whole cache on most builds; only when it finds some does the second read the hash columns of both tables to
        keep the current requests' (unjudged answers of requests no longer in the model keep it running).
        unjudged_count: the current requests' answers not judged yet as the staging table counted them (_count_staged,
        gemini_batch_state 1), which replaces both counts; none when it does not cover m__requests (incremental). -#}
    {%- set count_unjudged_in_cache -%}
        select count(*)
        from {{ responses_relation }}
        where status = ''
            and (judged_at is null or judged_at != updated_at)
    {%- endset -%}
    {%- if unjudged_count is not none -%}
        {%- if unjudged_count == 0 -%}
            {{ return(false) }}
        {%- endif -%}
    {%- elif execute and run_query(count_unjudged_in_cache).rows[0][0] == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set count_unjudged -%}
        select count(*)
        from {{ responses_relation }}
        where status = ''
            and (judged_at is null or judged_at != updated_at)
            and request_hash in (select request_hash from {{ requests_relation }})
    {%- endset -%}
    {%- if unjudged_count is none and execute and run_query(count_unjudged).rows[0][0] == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {%- call statement('gemini_batch_mark_unusable') -%}
        merge {{ responses_relation }} as target
        using (
            select
                request_hash,
                updated_at,
                {{ gemini_batch._answer_state(output_schema) }} as output_state
            from ({{ gemini_batch.parsed_response(unjudged) }})
        ) as judged
        on target.request_hash = judged.request_hash
        when matched and target.status = '' and target.updated_at = judged.updated_at then update set
            status = if(judged.output_state in ('truncated', 'invalid_output'),
                concat('{{ prefix }}', judged.output_state), target.status),
            updated_at = if(judged.output_state in ('truncated', 'invalid_output'),
                current_timestamp(), target.updated_at),
            judged_at = target.updated_at
    {%- endcall -%}
    {{ return(true) }}
{% endmacro %}

{#- m__responses made before answers were judged once lacks `judged_at`: added when missing (a metadata read, and
    a DDL statement only that once). The model's view lists its columns, so the new one does not show there. -#}
{% macro _add_judged_at_column(responses_relation) %}
    {%- set columns = adapter.get_columns_in_relation(responses_relation) | map(attribute='name') | map('lower') | list -%}
    {%- if 'judged_at' not in columns -%}
        {%- call statement('gemini_batch_judged_at_column') -%}
            alter table {{ responses_relation }} add column if not exists judged_at timestamp
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}
