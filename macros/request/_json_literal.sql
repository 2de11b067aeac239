{% macro _json_literal(value, sort_keys=true, keep_order_under=[]) -%}
    {#- Render a Jinja value as compact JSON text at compile time. Keys are sorted so equal dicts always give the same bytes
        (requests are hashed to deduplicate), except below the keys in `keep_order_under` (response schemas), where the
        author's order is kept because newer models emit structured output in schema order. -#}
    {%- if value is mapping -%}
        {%- set members = [] -%}
        {%- for key in ((value.keys() | sort) if sort_keys else (value.keys() | list)) -%}
            {%- set child_sorted = sort_keys and key not in keep_order_under -%}
            {%- do members.append(
                tojson(key | string) ~ ':' ~ gemini_batch._json_literal(value[key], child_sorted, keep_order_under)
            ) -%}
        {%- endfor -%}
        {{- return('{' ~ members | join(',') ~ '}') -}}
    {%- endif -%}
    {%- if value is iterable and value is not string -%}
        {%- set items = [] -%}
        {%- for item in value -%}
            {%- do items.append(gemini_batch._json_literal(item, sort_keys, keep_order_under)) -%}
        {%- endfor -%}
        {{- return('[' ~ items | join(',') ~ ']') -}}
    {%- endif -%}
    {{- return(tojson(value)) -}}
{%- endmacro %}
