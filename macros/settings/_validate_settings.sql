{#- Stops a gemini_batch model before anything is built when its settings cannot be right: a config or meta key that
    is a near miss of a setting (a typo would silently fall back to the default), a setting given in meta and at top
    level with different values, or a value of the wrong type or out of range. Every problem is named in one error,
    so one run shows them all. The hook runs the same checks on the manifest, with the same message
    (gemini_batch.settings.settings_for). Returns the checked settings by name. -#}
{% macro _validate_settings(model) %}
    {%- set result = gemini_batch._settings_checked(model) -%}
    {%- if result.message is not none -%}
        {{ exceptions.raise_compiler_error(result.message) }}
    {%- endif -%}
    {{ return(result.settings) }}
{% endmacro %}

{#- The checks of _validate_settings without raising: {'settings': the checked settings, 'message': every problem of
    the model in one sentence, or none}. check_selected_settings (on-run-start) reads every selected model's. -#}
{% macro _settings_checked(model) %}
    {%- set registry = gemini_batch._settings_registry() -%}
    {%- set rules = gemini_batch._settings_rules() -%}
    {%- set model_config = model.get('config') or {} -%}
    {%- set prefix = 'model ' ~ model.name ~ ': ' -%}
    {%- set meta = model_config.get('meta') or {} -%}
    {%- if meta is not mapping -%}
        {{ exceptions.raise_compiler_error(prefix ~ 'config meta must be a dictionary, got ' ~ tojson(meta)) }}
    {%- endif -%}
    {%- set problems = [] -%}
    {%- set bad = [] -%}
    {%- for where, keys in [('meta key', meta), ('config key', model_config)] -%}
        {%- for key in keys -%}
            {%- set meant = gemini_batch._closest_setting(key | string) -%}
            {%- if meant is not none -%}
                {%- do problems.append(where ~ " '" ~ key ~ "' is not a gemini_batch setting; "
                    ~ "did you mean '" ~ meant ~ "'? Rename it (settings: " ~ (registry.keys() | join(', ')) ~ ')') -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- set checked = {} -%}
    {%- for name, info in registry.items() -%}
        {%- set in_meta, top = meta.get(name), model_config.get(name) -%}
        {%- set clash = in_meta is not none and top is not none and in_meta != top -%}
        {%- if clash -%}
            {%- do bad.append(name) -%}
            {%- do problems.append(name ~ ' is set both in meta (' ~ tojson(in_meta)
                ~ ') and as a top-level config (' ~ tojson(top) ~ '); keep only the one in meta') -%}
            {%- set raw, source = none, none -%}
        {%- elif in_meta is not none -%}
            {%- set raw, source = in_meta, 'from meta' -%}
        {%- elif top is not none -%}
            {%- set raw, source = top, 'from config' -%}
        {%- elif info.get('env') and env_var(info.env, '') -%}
            {%- set raw, source = env_var(info.env), 'from environment variable ' ~ info.env -%}
        {%- else -%}
            {%- set raw, source = none, none -%}
        {%- endif -%}
        {%- if source is none -%}
            {%- do checked.update({name: info.default}) -%}
        {%- else -%}
            {%- set value = gemini_batch._settings_convert(info, raw) -%}
            {%- if value is none -%}
                {%- set problem = 'must be ' ~ rules.type_words[info.type] -%}
            {%- else -%}
                {%- set problem = gemini_batch._settings_value_problem(name, info, value) -%}
            {%- endif -%}
            {#- YAML 1.1 (dbt's yml files) reads a bare off/on/no/yes as a boolean: check_file_uris: off is false -#}
            {%- set yaml_hint = " (YAML reads a bare off, on, no or yes as false or true: quote it, e.g. 'off')" -%}
            {%- if value is none and info.type == 'str' and (raw is sameas true or raw is sameas false) -%}
                {%- set problem = problem ~ yaml_hint -%}
            {%- endif -%}
            {%- if problem is not none -%}
                {%- do bad.append(name) -%}
                {%- do problems.append(name ~ '=' ~ tojson(raw) ~ ' (' ~ source ~ ') ' ~ problem) -%}
                {%- do checked.update({name: info.default}) -%}
            {%- else -%}
                {%- do checked.update({name: value}) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if 'poll_initial_seconds' not in bad and 'poll_max_seconds' not in bad
        and checked.poll_initial_seconds > checked.poll_max_seconds -%}
        {%- do problems.append('poll_initial_seconds=' ~ checked.poll_initial_seconds
            ~ ' is greater than poll_max_seconds=' ~ checked.poll_max_seconds
            ~ '; make poll_initial_seconds at most poll_max_seconds') -%}
    {%- endif -%}
    {%- if 'escalate_to' not in bad and 'escalate_when' not in bad
        and (checked.escalate_to is none) != (checked.escalate_when is none) -%}
        {%- set given, missing = ('escalate_to', 'escalate_when') if checked.escalate_when is none
            else ('escalate_when', 'escalate_to') -%}
        {%- do problems.append(given ~ ' needs ' ~ missing ~ ': a cascade names the second Gemini '
            ~ 'model (escalate_to) and the rows it answers again (escalate_when, a SQL predicate over the model'
            ~ "'s typed columns and output_state)") -%}
    {%- endif -%}
    {%- if 'escalate_to' not in bad and 'gemini_model' not in bad and checked.escalate_to is not none
        and gemini_batch._price_model_key(checked.escalate_to)
        == gemini_batch._price_model_key(checked.gemini_model) -%}
        {%- do problems.append("escalate_to='" ~ checked.escalate_to
            ~ "' is the model's own gemini_model; name a second model") -%}
    {%- endif -%}
    {%- if 'transport' not in bad and 'gcs_prefix' not in bad
        and checked.transport == 'gcs' and checked.gcs_prefix is none -%}
        {%- do problems.append("transport=gcs needs gcs_prefix, the Cloud Storage folder for the "
            ~ "jobs' JSONL files (for example gs://my-bucket/gemini-batch); set gcs_prefix in the model's meta") -%}
    {%- endif -%}
    {%- set message = none -%}
    {%- if problems | length == 1 -%}
        {%- set message = prefix ~ problems[0] -%}
    {%- elif problems -%}
        {%- set numbered = [] -%}
        {%- for problem in problems -%}
            {%- do numbered.append('(' ~ loop.index ~ ') ' ~ problem) -%}
        {%- endfor -%}
        {%- set message = prefix ~ (problems | length) ~ ' settings problems: ' ~ (numbered | join('; ')) -%}
    {%- endif -%}
    {{ return({'settings': checked, 'message': message}) }}
{% endmacro %}
