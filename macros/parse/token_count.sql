{% macro token_count(kind, response='response') -%}
    {#- usageMetadata leaves out zero counts (no thoughtsTokenCount without thinking, no cachedContentTokenCount without a
        cache hit): a missing field on a response is 0; with no response at all the count is unknown (NULL). -#}
    {%- set fields = {
        'prompt': 'promptTokenCount', 'candidates': 'candidatesTokenCount', 'thoughts': 'thoughtsTokenCount',
        'total': 'totalTokenCount', 'cached': 'cachedContentTokenCount',
    } -%}
    {%- if kind not in fields -%}
        {{- exceptions.raise_compiler_error("gemini_batch.token_count: kind must be one of " ~ (fields.keys() | list | join(', ')) ~ "; got '" ~ kind ~ "'") -}}
    {%- endif -%}
    case
        when {{ response }} is not null
            then coalesce(safe_cast(json_value({{ response }}, '$.usageMetadata.{{ fields[kind] }}') as int64), 0)
    end
{%- endmacro %}
