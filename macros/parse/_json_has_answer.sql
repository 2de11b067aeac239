{% macro _json_has_answer(response) -%}
    {#- TRUE when the response holds an answer of any kind: a candidate or a promptFeedback (a blocked prompt has no
        candidate). A failed row's `{}` (Vertex writes it with a non-empty status) and a NULL response hold none, so
        every macro built on this reports "no answer" for them instead of an empty success. -#}
    coalesce(
        json_query({{ response }}, '$.candidates[0]') is not null
        or json_query({{ response }}, '$.promptFeedback') is not null,
        false
    )
{%- endmacro %}
