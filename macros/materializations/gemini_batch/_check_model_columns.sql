{#- Checks that the model's SQL can feed a batch job: a `request` column that is STRING or JSON (not an ARRAY of
    them: BigQueryColumn.dtype is the element type, mode says REPEATED), and no column named like the ones the package
    adds. Returns {'request_type': 'STRING'|'JSON'|none, 'problem': message naming the column, or none}, so the caller
    can drop its staging view before failing the model. -#}
{% macro _check_model_columns(staged_relation) %}
    {%- set reserved = gemini_batch._view_columns() -%}
    {%- set columns = adapter.get_columns_in_relation(staged_relation) -%}
    {%- set by_name = {} -%}
    {%- for column in columns -%}
        {%- do by_name.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- if 'request' not in by_name -%}
        {{ return({'request_type': none, 'problem':
            "gemini_batch model " ~ model.name ~ " has no column named `request`. Select the GenerateContentRequest "
            ~ "as `request`, e.g. `{{ gemini_batch.request(prompt='review_text') }} as request`. Columns found: "
            ~ (by_name.keys() | list | join(', '))}) }}
    {%- endif -%}
    {%- set clashes = reserved | select('in', by_name) | list -%}
    {%- if clashes -%}
        {{ return({'request_type': none, 'problem':
            "gemini_batch model " ~ model.name ~ " selects column(s) " ~ clashes | join(', ')
            ~ " whose names the package adds to the model's view; rename them (e.g. `status as review_status`)."}) }}
    {%- endif -%}
    {%- set request = by_name['request'] -%}
    {%- set request_type = request.dtype | upper -%}
    {%- if request_type not in ['STRING', 'JSON'] or (request.mode | upper) == 'REPEATED' -%}
        {{ return({'request_type': none, 'problem':
            "gemini_batch model " ~ model.name ~ ": column `request` is " ~ request.data_type
            ~ "; it must be one STRING (JSON text, as gemini_batch.request() returns) or JSON per row"
            ~ ((", not an ARRAY: select one request per row (e.g. unnest the array in the model)")
               if (request.mode | upper) == 'REPEATED' else "") ~ "."}) }}
    {%- endif -%}
    {{ return({'request_type': request_type, 'problem': none}) }}
{% endmacro %}
