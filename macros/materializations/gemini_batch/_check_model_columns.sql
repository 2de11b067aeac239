{#- Fails the model, naming the column, when its SQL cannot feed a batch job: no `request` column, a `request` that
    is neither STRING nor JSON, or a column that collides with the names the package adds. Returns request's type. -#}
{% macro _check_model_columns(staged_relation) %}
    {%- set reserved = ['request_hash', 'response', 'status', 'processed_time', 'job_name', 'attempts', 'updated_at'] -%}
    {%- set columns = adapter.get_columns_in_relation(staged_relation) -%}
    {%- set by_name = {} -%}
    {%- for column in columns -%}
        {%- do by_name.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- if 'request' not in by_name -%}
        {{ exceptions.raise_compiler_error(
            "gemini_batch model " ~ model.name ~ " has no column named `request`. Select the GenerateContentRequest "
            ~ "as `request`, e.g. `{{ gemini_batch.request(prompt='review_text') }} as request`. Columns found: "
            ~ (by_name.keys() | list | join(', '))) }}
    {%- endif -%}
    {%- set clashes = reserved | select('in', by_name) | list -%}
    {%- if clashes -%}
        {{ exceptions.raise_compiler_error(
            "gemini_batch model " ~ model.name ~ " selects column(s) " ~ clashes | join(', ')
            ~ " whose names the package adds to the model's view; rename them (e.g. `status as review_status`).") }}
    {%- endif -%}
    {%- set request_type = by_name['request'].dtype | upper -%}
    {%- if request_type not in ['STRING', 'JSON'] -%}
        {{ exceptions.raise_compiler_error(
            "gemini_batch model " ~ model.name ~ ": column `request` is " ~ request_type
            ~ "; it must be STRING (JSON text, as gemini_batch.request() returns) or JSON.") }}
    {%- endif -%}
    {{ return(request_type) }}
{% endmacro %}
