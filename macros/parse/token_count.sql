{% macro token_count(kind, response='response') -%}
    {#- usageMetadata is proto3 JSON, which leaves out zero counts (no thoughtsTokenCount without thinking, no
        cachedContentTokenCount without a cache hit): a field missing from a present usageMetadata is 0. A response
        without usageMetadata (a failed row's `{}`, a hand-made row) has unknown counts: NULL, never 0. -#}
    {%- set fields = {
        'prompt': 'promptTokenCount', 'candidates': 'candidatesTokenCount', 'thoughts': 'thoughtsTokenCount',
        'total': 'totalTokenCount', 'cached': 'cachedContentTokenCount', 'tool_use_prompt': 'toolUsePromptTokenCount',
    } -%}
    {%- if kind not in fields -%}
        {{- exceptions.raise_compiler_error("gemini_batch.token_count: kind must be one of " ~ (fields.keys() | list | join(', ')) ~ "; got '" ~ kind ~ "'") -}}
    {%- endif -%}
    case
        when json_query({{ response }}, '$.usageMetadata') is not null
            then coalesce(safe_cast(json_value({{ response }}, '$.usageMetadata.{{ fields[kind] }}') as int64), 0)
    end
{%- endmacro %}
