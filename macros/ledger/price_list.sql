{#- Online Gemini prices (USD per 1M tokens) as a BigQuery array of structs
    <gemini_model, input_usd_per_1m, output_usd_per_1m>, for `unnest(...)`. Override with var gemini_batch_prices
    ({model: {input: x, output: y}}); check current prices, these are defaults. Every field is aliased: bqemulator
    drops unaliased STRUCT field names. -#}
{% macro price_list() %}
    {%- set prices = var('gemini_batch_prices', {
        'gemini-2.5-pro': {'input': 1.25, 'output': 10.00},
        'gemini-2.5-flash': {'input': 0.30, 'output': 2.50},
        'gemini-2.5-flash-lite': {'input': 0.10, 'output': 0.40},
        'gemini-2.0-flash': {'input': 0.15, 'output': 0.60},
        'gemini-2.0-flash-lite': {'input': 0.075, 'output': 0.30},
    }) -%}
    {%- set rows = [] -%}
    {%- for model_name in prices -%}
        {%- do rows.append(
            "struct(" ~ (model_name | string | tojson) ~ " as gemini_model, "
            ~ "cast(" ~ prices[model_name]['input'] ~ " as float64) as input_usd_per_1m, "
            ~ "cast(" ~ prices[model_name]['output'] ~ " as float64) as output_usd_per_1m)"
        ) -%}
    {%- endfor -%}
    [{{ rows | join(', ') }}]
{%- endmacro %}
