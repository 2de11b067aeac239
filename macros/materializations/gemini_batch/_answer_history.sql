{#- Last good answer (README, "Last good answer"): m__answer_history remembers, per key, the request hashes it had
    before its request changed (a new prompt), so the view can still show the answer it had: the `previous_response`
    column. Rows recorded by 0.2.0 and earlier are the answered (key, hash) pairs of every build, with answered_at;
    since, only changed keys are recorded, when they change (_record_changed_keys). The key is the `unique_key`
    setting, like dbt's incremental models; by default every column of the model except `request`. -#}
{% macro _history_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__answer_history'}, type='table')) }}
{% endmacro %}

{#- The key columns of a model: unique_key (a column or a list) or all its columns but request and the columns
    the package adds (_not_key_columns).
    A unique_key column the model does not have stops the build, naming it. -#}
{% macro _key_columns(requests_relation, unique_key) %}
    {%- set columns = adapter.get_columns_in_relation(requests_relation) | map(attribute='name') | list -%}
    {%- if unique_key is none -%}
        {{ return(columns | reject('in', gemini_batch._not_key_columns()) | list) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key | list -%}
    {%- set lowered = columns | map('lower') | list -%}
    {%- for key in keys if key | lower not in lowered -%}
        {{ exceptions.raise_compiler_error('gemini_batch model ' ~ model.name ~ ': unique_key column `' ~ key
            ~ '` is not a column of the model (columns: ' ~ columns | join(', ') ~ ')') }}
    {%- endfor -%}
    {{ return(keys) }}
{% endmacro %}

{#- SQL: one STRING per row naming its key (the key columns as a JSON object), the same for the history and the view. -#}
{% macro _row_key_sql(alias, key_columns) %}
    {%- set fields = [] -%}
    {%- for column in key_columns -%}
        {%- do fields.append(alias ~ '.' ~ adapter.quote(column) ~ ' as ' ~ adapter.quote(column)) -%}
    {%- endfor -%}
    to_json_string(struct({{ fields | join(', ') }}))
{%- endmacro %}

{% macro _create_history_table(history_relation) %}
    {%- call statement('gemini_batch_answer_history') -%}
        create table if not exists {{ history_relation }} (
            row_key string,
            request_hash string,
            answered_at timestamp
        )
        cluster by row_key
    {%- endcall -%}
{% endmacro %}

{#- Records the keys whose request changed in this build, with their earlier request hashes, from the staging
    table's sparse columns gemini_batch_previous_key / gemini_batch_previous_hashes (_create_requests_table, which
    compared the new rows with the m__requests they replace, by key): a few bytes per changed row, never the cache or
    the requests. Every earlier hash is recorded, answered or not (the view keeps those with a successful answer, and
    one answered later shows up then); answered_at stays NULL (the view reads the answer's own time). The
    materialization runs it only when _count_staged counted changed keys. -#}
{% macro _record_changed_keys(history_relation, staging_table) %}
    {%- do gemini_batch._create_history_table(history_relation) -%}
    {%- call statement('gemini_batch_record_history') -%}
        insert into {{ history_relation }} (row_key, request_hash, answered_at)
        select distinct
            staged.gemini_batch_previous_key as row_key,
            previous_hash as request_hash,
            cast(null as timestamp) as answered_at
        from {{ staging_table }} as staged
        cross join unnest(split(staged.gemini_batch_previous_hashes, ',')) as previous_hash
        where staged.gemini_batch_previous_key is not null
    {%- endcall -%}
{% endmacro %}
