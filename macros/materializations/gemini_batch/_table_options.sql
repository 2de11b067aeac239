{#- OPTIONS(...) of the tables behind a gemini_batch model, from the model's own config the way dbt-bigquery builds
    them for a table (adapter.get_table_options: description under persist_docs, labels, resource tags,
    kms_key_name, hours_to_expiration), so the tables that hold the prompts and answers are governed like the model.
    Partition options are left out: these tables are never partitioned.
    Expiration: staging tables expire after a day; m__requests follows hours_to_expiration; m__responses, the paid
    answers, never expires. NULL is written out so that neither table keeps the dataset's default expiration. -#}
{% macro _table_options(kind) %}
    {%- set opts = adapter.get_table_options(config, model, false) -%}
    {%- set kept = {} -%}
    {%- for key in ['labels', 'tags', 'kms_key_name'] if key in opts -%}
        {%- do kept.update({key: opts[key]}) -%}
    {%- endfor -%}
    {%- if kind != 'staging' and 'description' in opts -%}
        {%- do kept.update({'description': opts['description']}) -%}
    {%- endif -%}
    {%- if kind == 'staging' -%}
        {%- do kept.update({'expiration_timestamp': gemini_batch._staging_expiration()}) -%}
    {%- elif kind == 'requests' -%}
        {%- do kept.update({'expiration_timestamp': opts.get('expiration_timestamp', 'NULL')}) -%}
    {%- else -%}
        {%- do kept.update({'expiration_timestamp': 'NULL'}) -%}
    {%- endif -%}
    {{ return(bigquery_options(kept)) }}
{% endmacro %}
