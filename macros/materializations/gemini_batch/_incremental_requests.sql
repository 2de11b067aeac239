{#- Incremental requests (setting incremental_requests, README "Incremental requests"): the model's SQL gives only
    the rows that are new or changed since the last build, filtered with `{% if gemini_batch.is_incremental_requests() %}`,
    so a large source is not read in full every run. m__requests keeps its other rows: a row whose key
    (unique_key) comes again is replaced, a new key is added, every other row stays. -#}

{#- True while building a gemini_batch model with incremental_requests whose m__requests exists, outside
    --full-refresh: the model's SQL then needs to give only new or changed rows (dbt's own is_incremental() is true
    only for the incremental materialization; a package macro named is_incremental would replace it for every model
    of the project). -#}
{% macro is_incremental_requests() %}
    {%- if not execute or model is not mapping or model.get('config', {}).get('materialized') != 'gemini_batch' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set enabled = gemini_batch._setting_value(config, 'incremental_requests') -%}
    {%- if not (enabled is sameas true or (enabled is string and enabled | lower == 'true')) or should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set requests = gemini_batch._requests_relation(this) -%}
    {{ return(adapter.get_relation(database=requests.database, schema=requests.schema,
        identifier=requests.identifier) is not none) }}
{% endmacro %}

{#- Adds the staged rows to m__requests. New keys only (the usual case for a growing source): an INSERT, which reads
    the staged rows and the key columns of m__requests. Keys given again: m__requests is written again without their
    old rows (one CREATE OR REPLACE ... AS; a DELETE or MERGE would bill the whole table too, and is DML). Nothing
    staged: nothing runs. The model's columns must stay the same (a change needs --full-refresh). -#}
{% macro _add_requests(staging_table, requests_relation, key_columns) %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set staged_columns = adapter.get_columns_in_relation(staging_table) | map(attribute='name') | list -%}
    {%- set kept_columns = adapter.get_columns_in_relation(requests_relation) | map(attribute='name') | list -%}
    {%- if staged_columns | map('lower') | list != kept_columns | map('lower') | list -%}
        {{ exceptions.raise_compiler_error('gemini_batch model ' ~ model.name ~ ' (incremental_requests): its columns ('
            ~ staged_columns | join(', ') ~ ') differ from those of ' ~ requests_relation ~ ' ('
            ~ kept_columns | join(', ') ~ '); run it once with --full-refresh to rebuild its requests') }}
    {%- endif -%}
    {%- set staged_key = gemini_batch._row_key_sql('staged', key_columns) -%}
    {%- set kept_key = gemini_batch._row_key_sql('kept', key_columns) -%}
    {%- set counts -%}
        select
            count(*) as staged,
            countif({{ staged_key }} in (select {{ kept_key }} from {{ requests_relation }} as kept)) as replaced
        from {{ staging_table }} as staged
    {%- endset -%}
    {%- set row = run_query(counts).rows[0] -%}
    {%- if row[0] == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for column in staged_columns -%}
        {%- do quoted.append(adapter.quote(column)) -%}
    {%- endfor -%}
    {%- if row[1] == 0 -%}
        {%- call statement('gemini_batch_add_requests') -%}
            insert into {{ requests_relation }} ({{ quoted | join(', ') }})
            select {{ quoted | join(', ') }} from {{ staging_table }}
        {%- endcall -%}
    {%- else -%}
        {%- call statement('gemini_batch_replace_requests') -%}
            create or replace table {{ requests_relation }}
            cluster by request_hash
            as
            select {{ quoted | join(', ') }}
            from {{ requests_relation }} as kept
            where {{ kept_key }} not in (select {{ staged_key }} from {{ staging_table }} as staged)
            union all
            select {{ quoted | join(', ') }} from {{ staging_table }}
        {%- endcall -%}
    {%- endif -%}
{% endmacro %}
