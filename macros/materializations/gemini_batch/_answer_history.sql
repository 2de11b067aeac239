{#- Last good answer (README, "Last good answer"): m__answer_history remembers, per key, every request hash that
    was answered, so when a key's request changes (a new prompt) the view can still show the answer it had: the
    `previous_response` column. The key is the `unique_key` setting, like dbt's incremental models; by default
    every column of the model except `request`. -#}
{% macro _history_relation(model_relation) %}
    {{ return(model_relation.incorporate(path={'identifier': model_relation.identifier ~ '__answer_history'}, type='table')) }}
{% endmacro %}

{#- The key columns of a model: unique_key (a column or a list) or all its columns but request, request_hash and
    gemini_batch_response_schema (_not_key_columns).
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

{#- Appends the (key, request hash) pairs of `requests_relation` whose request is answered (status ''), once each.
    The materialization calls it with the m__requests of the run before, just before replacing it: the answers a
    changed request would otherwise hide are recorded first. -#}
{% macro _record_answer_history(history_relation, requests_relation, responses_relation, key_columns) %}
    {%- do gemini_batch._create_history_table(history_relation) -%}
    {%- call statement('gemini_batch_record_history') -%}
        insert into {{ history_relation }} (row_key, request_hash, answered_at)
        select distinct
            {{ gemini_batch._row_key_sql('requests', key_columns) }} as row_key,
            requests.request_hash,
            coalesce(responses.processed_time, responses.updated_at) as answered_at
        from {{ requests_relation }} as requests
        inner join {{ responses_relation }} as responses
            on requests.request_hash = responses.request_hash
        where
            responses.status = ''
            and not exists (
                select 1 from {{ history_relation }} as history
                where
                    history.row_key = {{ gemini_batch._row_key_sql('requests', key_columns) }}
                    and history.request_hash = requests.request_hash
            )
    {%- endcall -%}
{% endmacro %}
