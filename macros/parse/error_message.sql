{% macro error_message(status='status', response=none) -%}
    {#- Vertex writes e.g. `Bad Request: {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}`:
        return the message from the JSON after the first `{`, else (no JSON there) the whole status text. Given the
        response too, a "success" without any answer (status '' with `{}` or NULL) reports 'empty response', so the
        message agrees with response_state(). -#}
    {%- set empty_answer_clause = '' -%}
    {%- if response is not none -%}
        {%- set empty_answer_clause = 'when not ' ~ gemini_batch._json_has_answer(response) ~ ' and (' ~ status ~ " = '' or "
            ~ response ~ " is not null) then 'empty response'" -%}
    {%- endif %}
    case
        when {{ status }} != ''
            then coalesce(
                json_value(
                    safe.parse_json(substr({{ status }}, greatest(strpos({{ status }}, '{'), 1))),
                    '$.error.message'
                ),
                {{ status }}
            )
        {{ empty_answer_clause }}
    end
{%- endmacro %}
