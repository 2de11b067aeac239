{% macro request(
    prompt,
    system_instruction=none,
    response_schema=none,
    generation_config=none,
    parts=none,
    safety_settings=none,
    labels=none,
    output_schema=none
) -%}
    {#- A GenerateContentRequest as JSON text (STRING), built by concatenation: every SQL value goes through to_json_string
        (BigQuery escapes any text correctly), every compile-time value is rendered here with its keys in a fixed order, so
        identical inputs give byte-identical requests (the package hashes the text to deduplicate). A NULL prompt (or a
        NULL part marked required) makes concat() return NULL: the row is invalid and the pre-submission check names it;
        an optional extra part whose value is NULL is left out. -#}
    {%- if prompt is none or prompt is not string or prompt | trim == '' -%}
        {{- exceptions.raise_compiler_error("gemini_batch.request: `prompt` must be a SQL expression (a column name, a concat(...), a quoted literal)") -}}
    {%- endif -%}
    {%- set schema_keys = ['responseSchema', 'responseJsonSchema'] -%}
    {%- set pieces = [] -%}

    {#- contents: one user turn, the prompt first, then the extra parts in the order given -#}
    {%- do pieces.extend([{'text': '{"contents":[{"role":"user","parts":[{"text":'}, {'sql': gemini_batch._json_string(prompt)}, {'text': '}'}]) -%}
    {%- set extra_parts = [] if parts is none else ([parts] if (parts is string or parts is mapping) else parts) -%}
    {%- for part in extra_parts -%}
        {%- set part = gemini_batch.text_part(part) if part is string else part -%}
        {%- if not (part is mapping and part.get('gemini_batch_part') and part.get('sql')) -%}
            {{- exceptions.raise_compiler_error("gemini_batch.request: each item of `parts` must be a SQL expression string (a text part), gemini_batch.text_part(...) or gemini_batch.file_part(...); got " ~ part) -}}
        {%- endif -%}
        {%- if part.get('required') -%}
            {%- do pieces.extend([{'text': ','}, {'sql': part['sql']}]) -%}
        {%- else -%}
            {#- An optional part is left out, with its comma, on rows where its value is NULL; when present, its SQL can
                still be NULL (a file with no known MIME type), which makes the request NULL. -#}
            {%- do pieces.append({'sql': 'case when ' ~ part['present'] ~ " then concat(',', " ~ part['sql'] | trim ~ ") else '' end"}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do pieces.append({'text': ']}]'}) -%}

    {#- systemInstruction: omitted on rows where the expression is NULL (a missing instruction is not an invalid request) -#}
    {%- if system_instruction is not none -%}
        {%- set system_sql -%}
            coalesce(concat({{ gemini_batch._json_sql_literal(',"systemInstruction":{"parts":[{"text":') }}, {{ gemini_batch._json_string(system_instruction) }}, '}]}'), '')
        {%- endset -%}
        {%- do pieces.append({'sql': system_sql}) -%}
    {%- endif -%}

    {#- generationConfig: snake_case keys become camelCase; a response schema implies JSON output unless a MIME type is given -#}
    {%- set config = gemini_batch._json_camel_case_keys(generation_config or {}, schema_keys) -%}
    {#- output_schema (BigQuery column syntax or a dict) derives the responseSchema, unless one is given explicitly.
        Not given here, it is the model's own `output_schema` setting (meta or config), read from the model's config
        when the SQL is compiled for a run (at parse time no SQL runs). `model.config`, not `config`: this macro
        has a local `config` below, which hides dbt's within the whole macro. -#}
    {%- if output_schema is none and response_schema is none and execute and model is defined and model.get('config') -%}
        {%- set output_schema = gemini_batch._setting_value(model.get('config'), 'output_schema') or none -%}
    {%- endif -%}
    {%- if output_schema is not none and response_schema is none and config.get('responseSchema') is none and config.get('responseJsonSchema') is none -%}
        {%- set response_schema = gemini_batch.output_schema_response_schema(output_schema) -%}
    {%- endif -%}
    {%- if response_schema is not none -%}
        {%- if config.get('responseSchema') is not none or config.get('responseJsonSchema') is not none -%}
            {{- exceptions.raise_compiler_error("gemini_batch.request: give the response schema either as `response_schema` or inside `generation_config`, not both") -}}
        {%- endif -%}
        {%- do config.update({'responseSchema': response_schema}) -%}
    {%- endif -%}
    {%- if (config.get('responseSchema') is not none or config.get('responseJsonSchema') is not none) and config.get('responseMimeType') is none -%}
        {%- do config.update({'responseMimeType': 'application/json'}) -%}
    {%- endif -%}
    {%- if execute -%}
        {%- set known_keys = [
            'audioTimestamp', 'candidateCount', 'enableAffectiveDialog', 'frequencyPenalty', 'imageConfig', 'logprobs',
            'maxOutputTokens', 'mediaResolution', 'modelSelectionConfig', 'presencePenalty', 'responseJsonSchema',
            'responseLogprobs', 'responseMimeType', 'responseModalities', 'responseSchema', 'routingConfig', 'seed',
            'speechConfig', 'stopSequences', 'temperature', 'thinkingConfig', 'topK', 'topP',
        ] -%}
        {%- for key in config if key not in known_keys -%}
            {#- Only a warning: the API grows new fields faster than this list, but a typo would fail every row of the batch. -#}
            {%- do exceptions.warn("gemini_batch.request: generation_config key '" ~ key ~ "' is not a known GenerationConfig field") -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if config -%}
        {%- do pieces.append({'text': ',"generationConfig":' ~ gemini_batch._json_literal(config, true, schema_keys)}) -%}
    {%- endif -%}

    {#- safetySettings: {category: threshold} (sorted by category) or a list of {category, threshold[, method]} (order kept) -#}
    {%- if safety_settings is mapping -%}
        {%- set settings = [] -%}
        {%- for category, threshold in safety_settings | dictsort -%}
            {%- do settings.append({'category': category, 'threshold': threshold}) -%}
        {%- endfor -%}
    {%- elif safety_settings is none -%}
        {%- set settings = [] -%}
    {%- else -%}
        {%- set settings = gemini_batch._json_camel_case_keys(safety_settings) -%}
        {%- for setting in settings if not (setting is mapping and setting.get('category') and setting.get('threshold')) -%}
            {{- exceptions.raise_compiler_error("gemini_batch.request: each safety setting needs a category and a threshold; got " ~ setting) -}}
        {%- endfor -%}
    {%- endif -%}
    {%- if settings -%}
        {%- do pieces.append({'text': ',"safetySettings":' ~ gemini_batch._json_literal(settings)}) -%}
    {%- endif -%}

    {#- labels: {label key: SQL expression}; values are sent as strings, a label whose value is NULL on a row is left out
        (array_to_string skips NULL elements) -#}
    {%- if labels -%}
        {%- set label_members = [] -%}
        {%- for key, value_sql in labels | dictsort -%}
            {%- if not modules.re.match('^[a-z][a-z0-9_-]{0,62}$', key | string) -%}
                {{- exceptions.raise_compiler_error("gemini_batch.request: label key '" ~ key ~ "' must start with a lowercase letter and hold only lowercase letters, digits, _ and - (at most 63)") -}}
            {%- endif -%}
            {%- do label_members.append('concat(' ~ gemini_batch._json_sql_literal(tojson(key | string) ~ ':') ~ ', ' ~ gemini_batch._json_string(value_sql) ~ ')') -%}
        {%- endfor -%}
        {%- do pieces.extend([{'text': ',"labels":{'}, {'sql': 'array_to_string([' ~ label_members | join(', ') ~ "], ',')"}, {'text': '}'}]) -%}
    {%- endif -%}
    {%- do pieces.append({'text': '}'}) -%}

    {#- Merge neighbouring constant pieces so the compiled SQL stays readable. -#}
    {%- set arguments = [] -%}
    {%- set pending = namespace(text='') -%}
    {%- for piece in pieces -%}
        {%- if 'text' in piece -%}
            {%- set pending.text = pending.text ~ piece['text'] -%}
        {%- else -%}
            {%- if pending.text -%}
                {%- do arguments.append(gemini_batch._json_sql_literal(pending.text)) -%}
                {%- set pending.text = '' -%}
            {%- endif -%}
            {%- do arguments.append(piece['sql'] | trim) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do arguments.append(gemini_batch._json_sql_literal(pending.text)) -%}
concat(
    {{ arguments | join(',\n    ') }}
)
{%- endmacro %}
