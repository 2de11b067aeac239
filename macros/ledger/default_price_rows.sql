{#- GENERATED from python_hooks/gemini_batch/data/gemini_prices.csv by `python -m gemini_batch.prices
    --write-macro`: edit the CSV, not this file (tests/unit/test_prices.py checks they agree). The CSV's
    header cites the sources. Rates are USD per 1M tokens at the standard (online) rate. -#}
{% macro default_price_rows() %}
    {{ return([
        {'model': 'gemini-2.5-pro', 'input': 1.25, 'output': 10.0, 'cached_input': 0.125, 'long_context_threshold': 200000, 'input_long': 2.5, 'output_long': 15.0, 'cached_input_long': 0.25, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 400, 'typical_thinking_tokens': 800},
        {'model': 'gemini-2.5-flash', 'input': 0.3, 'output': 2.5, 'cached_input': 0.03, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 300, 'typical_thinking_tokens': 400},
        {'model': 'gemini-2.5-flash-lite', 'input': 0.1, 'output': 0.4, 'cached_input': 0.01, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 300},
        {'model': 'gemini-2.0-flash', 'input': 0.15, 'output': 0.6, 'batch_discount': 0.5, 'source': 'vtx25', 'typical_output_tokens': 300},
        {'model': 'gemini-2.0-flash-lite', 'input': 0.075, 'output': 0.3, 'batch_discount': 0.5, 'source': 'vtx25', 'typical_output_tokens': 300},
        {'model': 'gemini-3.1-pro-preview', 'input': 2.0, 'output': 12.0, 'cached_input': 0.2, 'long_context_threshold': 200000, 'input_long': 4.0, 'output_long': 18.0, 'cached_input_long': 0.4, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 400, 'typical_thinking_tokens': 800},
        {'model': 'gemini-3.5-flash', 'input': 1.5, 'output': 9.0, 'cached_input': 0.15, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 300, 'typical_thinking_tokens': 400},
        {'model': 'gemini-3.5-flash-lite', 'input': 0.3, 'output': 2.5, 'cached_input': 0.03, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 300, 'typical_thinking_tokens': 200},
        {'model': 'gemini-3.8-flash', 'input': 0.75, 'output': 3.75, 'effective_to': '2026-12-31', 'cached_input': 0.075, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 300, 'typical_thinking_tokens': 400},
        {'model': 'gemini-3.8-flash', 'input': 1.5, 'output': 7.5, 'effective_from': '2027-01-01', 'cached_input': 0.15, 'batch_discount': 0.5, 'source': 'gapi', 'typical_output_tokens': 300, 'typical_thinking_tokens': 400},
    ]) }}
{% endmacro %}
