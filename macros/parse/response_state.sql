{% macro response_state(status='status', response='response') -%}
    {#- Vertex writes status '' for a success and the error text for a failure; rows not answered yet have neither.
        A row with a response but no status (a hand-made or JSONL-imported table) counts as succeeded. -#}
    case
        when {{ status }} = '' then 'succeeded'
        when {{ status }} is not null then 'failed'
        when {{ response }} is not null then 'succeeded'
        else 'pending'
    end
{%- endmacro %}
