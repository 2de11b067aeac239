{#- Estimated USD of a row's token counts priced with a row of price_list(), as a SQL expression. Two tiers: the
    tokens of requests above long_context_threshold (the ledger's long_context_* columns, which collect sums per job
    over the requests whose prompt was above the model's threshold) pay the *_long rates (each falling back to its
    base rate when the model has none), the rest the base rates. promptTokenCount includes the cached tokens; cached
    tokens pay cached_input with no batch discount (Google does not stack the two) and are ordinary input for a model
    without a cached_input rate. Thinking tokens pay thinking, else output. NULL when the price is NULL (unknown
    model): never 0. -#}
{% macro token_cost(tokens='jobs', price='price', batch=true) %}
    {%- set share = '(1 - ' ~ price ~ '.batch_discount)' if batch else '1' -%}
    {%- set terms = [] -%}
    {%- for tier in ['base', 'long'] -%}
        {%- set counts = {} -%}
        {%- for name in ['prompt_tokens', 'output_tokens', 'thoughts_tokens', 'cached_tokens'] -%}
            {%- set above = 'coalesce(' ~ tokens ~ '.long_context_' ~ name ~ ', 0)' -%}
            {%- do counts.update({name: above if tier == 'long'
                else 'greatest(coalesce(' ~ tokens ~ '.' ~ name ~ ', 0) - ' ~ above ~ ', 0)'}) -%}
        {%- endfor -%}
        {%- set rates = {} -%}
        {%- for name in ['input', 'output', 'cached_input'] -%}
            {%- set base = price ~ '.' ~ name ~ '_usd_per_1m' -%}
            {%- do rates.update({name: base if tier == 'base'
                else 'coalesce(' ~ price ~ '.' ~ name ~ '_long_usd_per_1m, ' ~ base ~ ')'}) -%}
        {%- endfor -%}
        {%- set cached = 'if(' ~ rates['cached_input'] ~ ' is null, 0, ' ~ counts['cached_tokens'] ~ ')' -%}
        {%- do terms.append(
            'greatest(' ~ counts['prompt_tokens'] ~ ' - ' ~ cached ~ ', 0) * ' ~ rates['input'] ~ ' * ' ~ share
            ~ '\n        + ' ~ cached ~ ' * coalesce(' ~ rates['cached_input'] ~ ', 0)'
            ~ '\n        + ' ~ counts['output_tokens'] ~ ' * ' ~ rates['output'] ~ ' * ' ~ share
            ~ '\n        + ' ~ counts['thoughts_tokens'] ~ ' * coalesce(' ~ price ~ '.thinking_usd_per_1m, '
            ~ rates['output'] ~ ') * ' ~ share) -%}
    {%- endfor -%}
    (
        {{ terms | join('\n        + ') }}
    ) / 1000000
{%- endmacro %}
