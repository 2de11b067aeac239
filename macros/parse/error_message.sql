{% macro error_message(status='status') -%}
    {#- Vertex writes e.g. `Bad Request: {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}`:
        return the message from the JSON after the first `{`, else (no JSON there) the whole status text. -#}
    case
        when {{ status }} != ''
            then coalesce(
                json_value(
                    safe.parse_json(substr({{ status }}, greatest(strpos({{ status }}, '{'), 1))),
                    '$.error.message'
                ),
                {{ status }}
            )
    end
{%- endmacro %}
