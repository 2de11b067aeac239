{% macro _json_camel_case_keys(value, keep_keys_under=[]) -%}
    {#- Return `value` with snake_case mapping keys turned into camelCase (max_output_tokens -> maxOutputTokens), recursively,
        except below the keys in `keep_keys_under`: a response schema's property names are the user's data. -#}
    {%- if value is mapping -%}
        {%- set converted = {} -%}
        {%- for key, child in value.items() -%}
            {%- set words = (key | string).split('_') -%}
            {%- set camel_words = [words[0]] -%}
            {%- for word in words[1:] if word -%}
                {%- do camel_words.append(word[0] | upper ~ word[1:]) -%}
            {%- endfor -%}
            {%- set camel_key = camel_words | join('') -%}
            {%- if camel_key in converted -%}
                {{- exceptions.raise_compiler_error(
                    "gemini_batch: key '" ~ key ~ "' is given twice (in snake_case and in camelCase)"
                ) -}}
            {%- endif -%}
            {%- set keep = camel_key in keep_keys_under -%}
            {%- do converted.update({
                camel_key: child if keep else gemini_batch._json_camel_case_keys(child, keep_keys_under)
            }) -%}
        {%- endfor -%}
        {{- return(converted) -}}
    {%- endif -%}
    {%- if value is iterable and value is not string -%}
        {%- set converted = [] -%}
        {%- for item in value -%}
            {%- do converted.append(gemini_batch._json_camel_case_keys(item, keep_keys_under)) -%}
        {%- endfor -%}
        {{- return(converted) -}}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
