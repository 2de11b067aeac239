{#- Seeds here hold review texts with line breaks inside quoted CSV fields. dbt-bigquery's seed load leaves
    allowQuotedNewlines off (dbt-labs/dbt-adapters#1340), so real BigQuery rejects them ("Missing close double quote");
    bqemulator does not enforce it. Same load as dbt-bigquery's, with the flag on: create the typed table, then append. -#}
{% macro bigquery__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {% call statement('create_seed_table') %}
        create or replace table {{ this.render() }} (
            {%- for col_name in agate_table.column_names %}
            {{ adapter.quote_seed_column(col_name, model['config'].get('quote_columns', none)) }} {{ column_override.get(col_name) or adapter.convert_type(agate_table, loop.index0) }}{{ ',' if not loop.last }}
            {%- endfor %}
        )
    {% endcall %}
    {% do adapter.upload_file(agate_table.original_abspath, model['database'], model['schema'], model['alias'], kwargs={
        'source_format': 'CSV', 'skip_leading_rows': 1, 'allow_quoted_newlines': true,
        'field_delimiter': model['config']['delimiter'], 'write_disposition': 'WRITE_APPEND'}) %}
    {% call statement() %} alter table {{ this.render() }} set {{ bigquery_table_options(config, model) }} {% endcall %}
    {% if config.persist_relation_docs() and 'description' in model %}
        {{ adapter.update_table_description(model['database'], model['schema'], model['alias'], model['description']) }}
    {% endif %}
{% endmacro %}
