{% macro blocking_finish_reasons() -%}
    {#- The candidate finishReason values that mean the answer was withheld or cut by a filter, not finished. The one
        list every parse macro (block_reason, is_blocked, output_state) reads. Sources: Vertex AI Candidate.FinishReason
        (SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, MODEL_ARMOR, IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT,
        IMAGE_RECITATION; google.cloud.aiplatform.v1 content.proto) and the Gemini API FinishReason (the same names).
        Not blocking: STOP, MAX_TOKENS (truncated), OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL,
        TOO_MANY_TOOL_CALLS, IMAGE_OTHER, NO_IMAGE, MISSING_THOUGHT_SIGNATURE, FINISH_REASON_UNSPECIFIED. A blocked
        prompt is told by promptFeedback.blockReason instead, whatever its value (SAFETY, OTHER, BLOCKLIST,
        PROHIBITED_CONTENT, MODEL_ARMOR, JAILBREAK, IMAGE_SAFETY). -#}
    {{- return([
        'SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'MODEL_ARMOR',
        'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT', 'IMAGE_RECITATION',
    ]) -}}
{%- endmacro %}
