{#- Gemini prices as a BigQuery ARRAY<STRUCT<...>> literal for `unnest(...)`, one element per model and date range:
    the registry's rows of both price lists (`price_list`: vertex or gemini_api; default_price_rows(), generated from python_hooks/gemini_batch/data/gemini_prices.csv, which
    the Python hook reads too), with var gemini_batch_prices replacing every row of each model it names and adding
    models it does not know. Var shape: {model: {input: x, output: y, ...}} or {model: [{effective_from: 'YYYY-MM-DD',
    effective_to: ..., input: x, output: y, ...}, ...]}; the fields and their meaning are the CSV's. Rates are USD per
    1M tokens at the standard (online) rate. Every struct field is aliased: bqemulator drops unaliased field names. -#}
{% macro price_list() %}
    {%- set overrides = var('gemini_batch_prices', none) or {} -%}
    {%- if overrides is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var gemini_batch_prices must map a Gemini model to {input: x, output: y, ...} or to a list of such "
            ~ "entries with effective_from/effective_to; got " ~ overrides) }}
    {%- endif -%}
    {%- set given = {} -%}
    {%- for model, value in overrides.items() -%}
        {%- set entries = value if (value is sequence and value is not string and value is not mapping) else [value] -%}
        {%- for entry in entries if entry is not mapping -%}
            {{ exceptions.raise_compiler_error(
                "var gemini_batch_prices: '" ~ model ~ "' must map to {input: x, output: y, ...} or a list of them; "
                ~ "got " ~ entry) }}
        {%- endfor -%}
        {%- do given.update({gemini_batch._price_model_key(model): entries}) -%}
    {%- endfor -%}
    {%- set by_model = {} -%}
    {%- for row in gemini_batch.default_price_rows() if row['model'] not in given -%}
        {%- do by_model.setdefault(row['model'], []).append(row) -%}
    {%- endfor -%}
    {%- do by_model.update(given) -%}
    {%- set structs = [] -%}
    {%- for model, entries in by_model.items() -%}
        {%- for price_list in ['vertex', 'gemini_api'] -%}
            {%- set same_list = [] -%}
            {%- for entry in entries if (entry.get('price_list') or 'vertex') == price_list -%}
                {%- do same_list.append(entry) -%}
            {%- endfor -%}
            {%- do gemini_batch._check_price_ranges(model, same_list) -%}
        {%- endfor -%}
        {%- for entry in entries -%}
            {%- do structs.append(gemini_batch._price_struct(model, entry)) -%}
        {%- endfor -%}
    {%- endfor -%}
    [{{ structs | join(',\n') }}]
{%- endmacro %}


{#- The registry key of a model name: Vertex's `publishers/google/models/x` and the Gemini API's `models/x` are `x`
    (python_hooks/gemini_batch/prices.py normalize_model does the same). -#}
{% macro _price_model_key(model) %}
    {{ return(modules.re.sub('^(publishers/google/models/|models/)', '', model | string | trim)) }}
{% endmacro %}


{#- Two rows of one model and price list whose date ranges overlap would price a job twice: refuse them, naming the
    model. -#}
{% macro _check_price_ranges(model, entries) %}
    {%- for a in entries -%}
        {%- for b in entries[loop.index:] -%}
            {%- set a_from = a.get('effective_from') | string if a.get('effective_from') is not none else none -%}
            {%- set a_to = a.get('effective_to') | string if a.get('effective_to') is not none else none -%}
            {%- set b_from = b.get('effective_from') | string if b.get('effective_from') is not none else none -%}
            {%- set b_to = b.get('effective_to') | string if b.get('effective_to') is not none else none -%}
            {%- if (a_from is none or b_to is none or a_from <= b_to) and (b_from is none or a_to is none or b_from <= a_to) -%}
                {{ exceptions.raise_compiler_error(
                    "var gemini_batch_prices: the prices of '" ~ model ~ "' overlap (" ~ a_from ~ ".." ~ a_to ~ " and "
                    ~ b_from ~ ".." ~ b_to ~ "); give each entry its own effective_from/effective_to range") }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{#- One price entry as a BigQuery STRUCT; unknown fields, missing input/output rates, and values that are not numbers
    or YYYY-MM-DD dates fail compilation with the model and field named. -#}
{% macro _price_struct(model, entry) %}
    {%- set rates = ['input', 'output', 'thinking', 'cached_input', 'input_long', 'output_long', 'cached_input_long'] -%}
    {#- typical_*_tokens are the plan's assumptions (python_hooks/gemini_batch/spend/output_bound.py), not prices. -#}
    {%- set known = rates + ['effective_from', 'effective_to', 'long_context_threshold', 'batch_discount', 'source',
        'price_list', 'read_on', 'typical_output_tokens', 'typical_thinking_tokens'] -%}
    {%- for key in entry if key not in known + ['model'] -%}
        {{ exceptions.raise_compiler_error(
            "var gemini_batch_prices: '" ~ model ~ "' has an unknown field '" ~ key ~ "' (known: "
            ~ known | join(', ') ~ ")") }}
    {%- endfor -%}
    {%- for key in ['input', 'output'] if entry.get(key) is none -%}
        {{ exceptions.raise_compiler_error(
            "var gemini_batch_prices: '" ~ model ~ "' needs '" ~ key ~ "' (USD per 1M tokens, standard rate)") }}
    {%- endfor -%}
    {%- set sql = {} -%}
    {%- for key in rates + ['long_context_threshold', 'batch_discount'] -%}
        {%- set value = entry.get(key) -%}
        {%- set type = 'int64' if key == 'long_context_threshold' else 'float64' -%}
        {%- if value is none -%}
            {%- do sql.update({key: 'cast(null as ' ~ type ~ ')'}) -%}
        {%- elif (value is number and value >= 0) or modules.re.match('^[0-9]+([.][0-9]+)?$', value | string) -%}
            {%- do sql.update({key: 'cast(' ~ value ~ ' as ' ~ type ~ ')'}) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "var gemini_batch_prices: '" ~ model ~ "' field '" ~ key ~ "' must be a non-negative number, got "
                ~ value) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for key in ['effective_from', 'effective_to'] -%}
        {%- set value = entry.get(key) -%}
        {%- if value is none -%}
            {%- do sql.update({key: 'cast(null as date)'}) -%}
        {%- elif modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
            {%- do sql.update({key: "date '" ~ value ~ "'"}) -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "var gemini_batch_prices: '" ~ model ~ "' field '" ~ key ~ "' must be a date YYYY-MM-DD, got "
                ~ value) }}
        {%- endif -%}
    {%- endfor -%}
    {%- set price_list = entry.get('price_list') or 'vertex' -%}
    {%- if price_list not in ['vertex', 'gemini_api'] -%}
        {{ exceptions.raise_compiler_error(
            "var gemini_batch_prices: '" ~ model ~ "' field 'price_list' must be vertex or gemini_api, got "
            ~ price_list) }}
    {%- endif -%}
    {%- set discount = sql['batch_discount'] if entry.get('batch_discount') is not none else 'cast(0.5 as float64)' -%}
    {{ return(
        'struct(' ~ (gemini_batch._price_model_key(model) | tojson) ~ ' as gemini_model, '
        ~ "'" ~ price_list ~ "' as price_list, "
        ~ sql['effective_from'] ~ ' as effective_from, '
        ~ sql['effective_to'] ~ ' as effective_to, '
        ~ sql['input'] ~ ' as input_usd_per_1m, '
        ~ sql['output'] ~ ' as output_usd_per_1m, '
        ~ sql['thinking'] ~ ' as thinking_usd_per_1m, '
        ~ sql['cached_input'] ~ ' as cached_input_usd_per_1m, '
        ~ sql['long_context_threshold'] ~ ' as long_context_threshold, '
        ~ sql['input_long'] ~ ' as input_long_usd_per_1m, '
        ~ sql['output_long'] ~ ' as output_long_usd_per_1m, '
        ~ sql['cached_input_long'] ~ ' as cached_input_long_usd_per_1m, '
        ~ discount ~ ' as batch_discount)'
    ) }}
{% endmacro %}
