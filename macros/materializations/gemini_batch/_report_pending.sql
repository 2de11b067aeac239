{#- Pending work is never silent. Counts the distinct requests of the new m__requests that have no usable answer
    and will still be sent: never answered (new, in a job not collected yet, or left by a FAILED job) or failed with
    attempts left (the pending rule the submit step sends by, _pending_condition.sql), and returns {'pending',
    'new', 'retry', 'given_up', 'message'}.
    The materialization says so in dbt's log and in the node's run result message, and on_pending decides: warn (a
    dbt warning, an error under --warn-error), error (the model fails after its relations are built), ignore.
    Not run under the hook (_hook_active), which is about to send those rows itself. -#}
{% macro _count_pending(requests_relation, responses_relation, max_attempts) %}
    {%- set query -%}
        select
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
    {%- set new, retry, given_up = row[0] | int, row[1] | int, row[2] | int -%}
    {%- set message = (new + retry) ~ ' request(s) not answered yet (' ~ new ~ ' never answered or in a job not '
        ~ 'collected or left by a failed job, ' ~ retry ~ ' to retry)' ~ ((', ' ~ given_up ~ ' given up after max_attempts') if given_up else '')
        ~ ': a plain dbt run does not send them; run `dbt-gemini-batch run --select ' ~ model.name
        ~ '` (or `submit`) to send them' -%}
    {{ return({'pending': new + retry, 'new': new, 'retry': retry, 'given_up': given_up, 'message': message}) }}
{% endmacro %}

{#- Whether `dbt-gemini-batch run|build` runs this dbt invocation: it sets GEMINI_BATCH_HOOK_ACTIVE=1 (an environment
    variable, not a --vars entry, so that switching between it and plain dbt keeps dbt's partial parsing; see
    gemini_batch/runner.py). The var gemini_batch_hook_active, which earlier versions passed, is still read. -#}
{% macro _hook_active() %}
    {{ return(env_var('GEMINI_BATCH_HOOK_ACTIVE', '') == '1' or var('gemini_batch_hook_active', false)) }}
{% endmacro %}
