{#- on-run-start: every configuration problem of every selected gemini_batch model, in one error, before dbt builds
    anything. Each model's materialization runs the same checks (_validate_settings), but only when dbt reaches it: a
    model downstream of one with a bad setting would be skipped unchecked, so a project with three mistakes needed
    three runs. Plain `dbt build` (dbt Cloud, Fusion) gets it too: no dbt invocation or manifest read of our own.
    Reads the parsed graph only (no query). -#}
{% macro check_selected_settings() %}
    {%- if execute -%}
        {%- set messages = [] -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type == 'model' and node.config.materialized == 'gemini_batch'
                and node.unique_id in (selected_resources or []) -%}
                {%- set result = gemini_batch._settings_checked(node) -%}
                {%- if result.message is not none -%}
                    {%- do messages.append(result.message) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if messages -%}
            {{ exceptions.raise_compiler_error(messages | length ~ ' gemini_batch model(s) of the selection have '
                ~ 'configuration problems: nothing was built or sent; fix them all, then run again: '
                ~ (messages | join(' | '))) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
