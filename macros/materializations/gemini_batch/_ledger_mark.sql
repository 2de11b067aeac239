{#- The job ledger (gemini_batch_jobs) where the hook and the inline answers record their events: vars
    gemini_batch_ledger_database / gemini_batch_ledger_schema, default the target's (the package's source
    gemini_batch.gemini_batch_jobs, which create_ledger_table creates on-run-start). -#}
{% macro _ledger_relation() %}
    {{- return(api.Relation.create(
        database=var('gemini_batch_ledger_database', target.project),
        schema=var('gemini_batch_ledger_schema', target.schema), identifier='gemini_batch_jobs')) -}}
{% endmacro %}

{#- The ledger's mark for one answer cache: [events, the latest event's time in unix microseconds (0 when none)].
    Taken before the staging statement reads the cache, and handed to the hook with the staged counts
    (_publish_counts): the ledger is append-only and every writer of answers (a job's merge, an inline answer) adds
    an event after writing them, so while the hook still reads the same mark, no hash was answered since the states
    were read and the hook selects the pending rows by state without reading the cache. The same statement as
    python_hooks/gemini_batch/ledger.py Ledger.events_mark (without exclusion). One query on the ledger, which lives
    in its own dataset (and maybe location): never joined with the model's tables. -#}
{% macro _ledger_mark(responses_relation) %}
    {%- set cache = responses_relation.database ~ '.' ~ responses_relation.schema ~ '.' ~ responses_relation.identifier -%}
    {%- set query -%}
        select count(*) as n, coalesce(unix_micros(max(updated_at)), 0) as latest
        from {{ gemini_batch._ledger_relation() }}
        where responses_table = '{{ cache }}'
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {{ return([row[0] | int, row[1] | int]) }}
{% endmacro %}
