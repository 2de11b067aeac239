{% macro response_state(status='status', response='response') -%}
    {#- Vertex writes status '' for a success and the error text for a failure; rows not answered yet have neither.
        A failed row's response is `{}`: a response without any answer (no candidate, no promptFeedback) is failed
        whatever the status says, so text, finish reason, tokens and state agree on "no answer". A row with an answer
        but no status (a hand-made or JSONL-imported table) counts as succeeded. -#}
    case
        when {{ status }} != '' then 'failed'
        when {{ gemini_batch._json_has_answer(response) }} then 'succeeded'
        when {{ status }} = '' or {{ response }} is not null then 'failed'
        else 'pending'
    end
{%- endmacro %}
