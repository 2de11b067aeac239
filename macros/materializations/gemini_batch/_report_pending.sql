{#- Pending work is never silent. Counts the distinct requests of the new m__requests that have no usable answer
    and will still be sent: never answered (new, in a job not collected yet, or left by a FAILED job) or failed with
    attempts left (the pending rule the submit step sends by, _pending_condition.sql), and returns {'pending',
    'new', 'retry', 'given_up', 'message', 'rows', 'hashes', 'max_attempts'} (rows: of the model; hashes: distinct
    requests). One statement that reads the hash, status and attempts columns only (after the answers may have
    changed in the build: _count_staged reads the staged rows' state instead).
    The materialization says so in dbt's log and in the node's run result message, and on_pending decides: warn (a
    dbt warning, an error under --warn-error), error (the model fails after its relations are built), ignore.
    Not run under the hook (_hook_active), which is about to send those rows itself. -#}
{% macro _count_pending(requests_relation, responses_relation, max_attempts) %}
    {%- set query -%}
        select
            count(*) as rows_in_model,
            count(distinct requests.request_hash) as distinct_requests,
            count(distinct if(
                {{ gemini_batch._pending_condition(max_attempts, 'never_answered') }}, requests.request_hash, null
            )) as new_requests,
            count(distinct if(
                {{ gemini_batch._pending_condition(max_attempts, 'retry') }}, requests.request_hash, null
            )) as retry_requests,
            count(distinct if(
                {{ gemini_batch._pending_condition(max_attempts, 'exhausted') }}, requests.request_hash, null
            )) as given_up_requests
        from {{ requests_relation }} as requests
        left join {{ responses_relation }} as responses
            on requests.request_hash = responses.request_hash
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {{ return(gemini_batch._pending_report(row[0] | int, row[1] | int, row[2] | int, row[3] | int, row[4] | int, max_attempts)) }}
{% endmacro %}

{#- _count_pending's figures from the staging table's gemini_batch_state and gemini_batch_first columns
    (_create_requests_table: the cache as it was when the rows were staged), without reading the hashes or the cache:
    the same keys, plus 'unjudged' (distinct requests answered but not judged yet, _mark_unusable_answers) and
    'changed_keys' (rows whose key had another request before: _record_changed_keys). -#}
{% macro _count_staged(staging_table, max_attempts) %}
    {%- set codes = gemini_batch._state_codes() -%}
    {%- set state = gemini_batch._state_column() -%}
    {%- set query -%}
        select
            count(*) as rows_in_model,
            countif(gemini_batch_first) as distinct_requests,
            countif(gemini_batch_first and {{ state }} = {{ codes.never_answered }}) as new_requests,
            countif(gemini_batch_first and {{ state }} = {{ codes.retry }}) as retry_requests,
            countif(gemini_batch_first and {{ state }} = {{ codes.given_up }}) as given_up_requests,
            countif(gemini_batch_first and {{ state }} = {{ codes.unjudged }}) as unjudged_requests,
            countif(gemini_batch_previous_key is not null) as changed_keys
        from {{ staging_table }}
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- set report = gemini_batch._pending_report(row[0] | int, row[1] | int, row[2] | int, row[3] | int, row[4] | int, max_attempts) -%}
    {%- do report.update({'unjudged': row[5] | int, 'changed_keys': row[6] | int}) -%}
    {{ return(report) }}
{% endmacro %}

{#- The dict _count_pending and _count_staged return, with the sentence on_pending says. -#}
{% macro _pending_report(rows, hashes, new, retry, given_up, max_attempts) %}
    {%- set message = (new + retry) ~ ' request(s) not answered yet (' ~ new ~ ' never answered or in a job not '
        ~ 'collected or left by a failed job, ' ~ retry ~ ' to retry)' ~ ((', ' ~ given_up ~ ' given up after max_attempts') if given_up else '')
        ~ ': a plain dbt run does not send them; run `dbt-gemini-batch run --select ' ~ model.name
        ~ '` (or `submit`) to send them' -%}
    {{ return({'pending': new + retry, 'new': new, 'retry': retry, 'given_up': given_up, 'message': message,
        'rows': rows, 'hashes': hashes, 'max_attempts': max_attempts}) }}
{% endmacro %}

{#- Whether `dbt-gemini-batch run|build` runs this dbt invocation: it sets GEMINI_BATCH_HOOK_ACTIVE=1 (an environment
    variable, not a --vars entry, so that switching between it and plain dbt keeps dbt's partial parsing; see
    gemini_batch/runner.py). The var gemini_batch_hook_active, which earlier versions passed, is still read. -#}
{% macro _hook_active() %}
    {{ return(env_var('GEMINI_BATCH_HOOK_ACTIVE', '') == '1' or var('gemini_batch_hook_active', false)) }}
{% endmacro %}

{#- Hands the model's count to the hook of this dbt invocation (`dbt-gemini-batch run|build`), so that the hook does
    not count the model again: a debug-level log line, which dbt gives to the hook's event callback in the same
    process (gemini_batch/runner.py reads it; gemini_batch/batch/plan.py count_requests uses it). A count with
    nothing pending is handed over as it is: the hook then sends nothing. A count with pending rows only with the
    ledger's mark taken before the staged states were read (ledger_mark, _ledger_mark): the hook uses it, and selects
    the rows to send by state, only while the ledger under its submit lease still shows that mark; otherwise it
    counts and selects against the cache itself. A count that no longer holds (counts none) is not handed over, nor
    is one without the hook. -#}
{% macro _publish_counts(requests_relation, responses_relation, counts, ledger_mark=none) %}
    {%- if execute and counts is not none and (counts.pending == 0 or ledger_mark is not none)
        and gemini_batch._hook_active() -%}
        {%- set published = {
            'unique_id': model.unique_id,
            'requests_table': requests_relation.database ~ '.' ~ requests_relation.schema ~ '.' ~ requests_relation.identifier,
            'responses_table': responses_relation.database ~ '.' ~ responses_relation.schema ~ '.' ~ responses_relation.identifier,
            'invocation_id': invocation_id,
            'max_attempts': counts.max_attempts,
            'rows': counts.rows,
            'hashes': counts.hashes,
            'pending': counts.pending,
            'new': counts.new,
            'retry': counts.retry,
            'given_up': counts.given_up,
            'ledger_mark': ledger_mark if counts.pending else none,
        } -%}
        {{ log(gemini_batch._published_counts_prefix() ~ tojson(published)) }}
    {%- endif -%}
{% endmacro %}

{#- The start of _publish_counts' log line (gemini_batch/batch/plan.py PUBLISHED_COUNTS_PREFIX is the same text). -#}
{% macro _published_counts_prefix() %}
    {{- return('gemini_batch counted: ') -}}
{% endmacro %}
