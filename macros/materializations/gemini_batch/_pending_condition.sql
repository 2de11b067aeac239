{#- The pending rule of the package, in SQL over a `responses` row left-joined to a request: the same text as
    gemini_batch/batch/plan.py's conditions, which the submit step sends by (a unit test checks they agree), so that
    the materialization's on_pending count, the run summary, `plan`, `status` and what is sent never disagree.
    part: 'never_answered' (no response row: new or in a job not collected yet; or a NULL status, which a FAILED
    batch job leaves on each request it did not answer), 'retry' (failed with attempts left), 'exhausted' (given up
    after max_attempts: a dead letter), or 'pending' (never_answered or retry). max_attempts: a number, or a query
    parameter such as @max_attempts. Plain text output (no return()), so the unit test can render it with Jinja. -#}
{% macro _pending_condition(max_attempts, part='pending') -%}
    {%- if part == 'never_answered' -%}
        (responses.request_hash is null or responses.status is null)
    {%- elif part == 'retry' -%}
        (responses.status != '' and coalesce(responses.attempts, 0) < {{ max_attempts }})
    {%- elif part == 'exhausted' -%}
        (responses.status != '' and coalesce(responses.attempts, 0) >= {{ max_attempts }})
    {%- else -%}
        ((responses.request_hash is null or responses.status is null)
        or (responses.status != '' and coalesce(responses.attempts, 0) < {{ max_attempts }}))
    {%- endif -%}
{%- endmacro %}
