{#- The ledger's project and dataset come from vars (gemini_batch_ledger_database, gemini_batch_ledger_schema) and
    reach SQL as identifiers: checked against BigQuery's naming rules before any statement, with the same rules as the
    hook (python_hooks/gemini_batch/identifiers.py). A backtick, space or dot would otherwise break or redirect the
    on-run-start DDL. -#}
{% macro _check_ledger_relation(ledger) %}
    {%- set re = modules.re -%}
    {%- set project_ok = re.fullmatch('([a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]', ledger.database | string) -%}
    {%- if not project_ok -%}
        {{ exceptions.raise_compiler_error(
            "gemini_batch: the job ledger's project " ~ (ledger.database | string | tojson)
            ~ " (var gemini_batch_ledger_database) is not a Google Cloud project ID (6 to 30 lower-case letters, "
            ~ "digits or hyphens, starting with a letter)") }}
    {%- endif -%}
    {%- if not re.fullmatch('[A-Za-z0-9_]{1,1024}', ledger.schema | string) -%}
        {{ exceptions.raise_compiler_error(
            "gemini_batch: the job ledger's dataset " ~ (ledger.schema | string | tojson)
            ~ " (var gemini_batch_ledger_schema) is not a BigQuery dataset name (letters, digits and underscores "
            ~ "only; no spaces, dots, hyphens or backticks)") }}
    {%- endif -%}
{% endmacro %}
