{#- Estimated USD of a row's token counts priced with a row of price_list(), as a SQL expression. Base tier only: the
    ledger sums tokens per job, so a request above long_context_threshold (2.5 Pro, 3.1 Pro: > 200k prompt tokens) is
    priced at the short-context rate (the Python estimate, per request, applies the long rates). promptTokenCount
    includes the cached tokens; cached tokens pay cached_input with no batch discount (Google does not stack the two)
    and are ordinary input for a model without a cached_input rate. Thinking tokens pay thinking, else output.
    NULL when the price is NULL (unknown model): never 0. -#}
{% macro token_cost(tokens='jobs', price='price', batch=true) %}
    {%- set share = '(1 - ' ~ price ~ '.batch_discount)' if batch else '1' -%}
    {%- set cached = 'if(' ~ price ~ '.cached_input_usd_per_1m is null, 0, coalesce(' ~ tokens ~ '.cached_tokens, 0))' -%}
    (
        greatest(coalesce({{ tokens }}.prompt_tokens, 0) - {{ cached }}, 0) * {{ price }}.input_usd_per_1m * {{ share }}
        + {{ cached }} * coalesce({{ price }}.cached_input_usd_per_1m, 0)
        + coalesce({{ tokens }}.output_tokens, 0) * {{ price }}.output_usd_per_1m * {{ share }}
        + coalesce({{ tokens }}.thoughts_tokens, 0)
        * coalesce({{ price }}.thinking_usd_per_1m, {{ price }}.output_usd_per_1m) * {{ share }}
    ) / 1000000
{%- endmacro %}
