{#- The package settings for the materialization: the same names, types, defaults and allowed values as the registry
    in Python (python_hooks/gemini_batch/settings.py, BatchSettings), which the hook reads from the manifest.
    tests/unit/test_settings.py renders this macro and fails when the two differ. To add a setting: one entry here
    and one `setting(...)` line in BatchSettings. Patterns are full-match Python regexes written without backslashes
    (a Jinja string literal would read them differently). -#}
{% macro _settings_registry() %}
    {%- set gemini_model_hint = 'must be a Gemini model name: a publisher model like gemini-2.5-flash or '
        ~ 'gemini-2.5-flash-001, models/NAME, publishers/google/models/NAME, or a tuned model '
        ~ 'projects/PROJECT/locations/LOCATION/models/ID (or endpoints/ID)' -%}
    {%- set gemini_model_pattern = '((models/|publishers/google/models/)?'
        ~ 'gemini-[a-z0-9][a-z0-9.-]*[a-z0-9](@[a-z0-9][a-z0-9.-]*)?'
        ~ '|projects/[a-z0-9][a-z0-9.:-]*/locations/[a-z0-9-]+/(models|endpoints)/[A-Za-z0-9_.@-]+)' -%}
    {%- set gcs_prefix_hint = 'must be a Cloud Storage folder gs://BUCKET or gs://BUCKET/PATH: a bucket name of 3-63 '
        ~ 'lower-case letters, digits, dashes, underscores or dots, and a path of letters, digits, dashes, underscores, '
        ~ 'dots or = (no wildcards)' -%}
    {%- set location_hint = 'must be a Vertex AI region in lower case, such as us-central1 or europe-west4, or global' -%}
    {{ return({
        'gemini_model': {'type': 'str', 'default': 'gemini-2.5-flash', 'pattern': gemini_model_pattern, 'hint': gemini_model_hint},
        'vertex_project': {'type': 'str', 'default': none, 'pattern': '[!-~]+', 'hint': 'must be a project ID', 'env': 'GEMINI_BATCH_VERTEX_PROJECT'},
        'vertex_location': {'type': 'str', 'default': none, 'pattern': '(global|[a-z]+-[a-z]+[0-9]+)', 'hint': location_hint, 'env': 'GEMINI_BATCH_VERTEX_LOCATION'},
        'vertex_endpoint': {'type': 'str', 'default': none, 'pattern': '[!-~]+', 'hint': 'must be a host or URL', 'env': 'GEMINI_BATCH_VERTEX_ENDPOINT'},
        'max_requests_per_job': {'type': 'int', 'default': 200000, 'minimum': 1, 'maximum': 200000},
        'max_jobs_in_flight_per_model': {'type': 'int', 'default': 8, 'minimum': 1},
        'max_attempts': {'type': 'int', 'default': 3, 'minimum': 1},
        'max_failed_jobs': {'type': 'int', 'default': 3, 'minimum': 1},
        'keep_job_tables': {'type': 'bool', 'default': false},
        'poll_initial_seconds': {'type': 'float', 'default': 10.0, 'above': 0, 'env': 'GEMINI_BATCH_POLL_INITIAL_SECONDS'},
        'poll_max_seconds': {'type': 'float', 'default': 300.0, 'above': 0, 'env': 'GEMINI_BATCH_POLL_MAX_SECONDS'},
        'on_missing_answers': {'type': 'str', 'default': 'error', 'pattern': '(error|warn)', 'hint': 'must be error or warn'},
        'max_wait_hours': {'type': 'float', 'default': 96.0, 'above': 0},
        'max_requests_per_run': {'type': 'int', 'default': none, 'minimum': 1},
        'max_estimated_cost_usd': {'type': 'float', 'default': none, 'minimum': 0},
        'max_resend_share': {'type': 'float', 'default': 0.5, 'minimum': 0, 'maximum': 1},
        'on_resend': {'type': 'str', 'default': 'warn', 'pattern': '(warn|error)', 'hint': 'must be warn or error'},
        'max_error_ratio': {'type': 'float', 'default': none, 'minimum': 0, 'maximum': 1},
        'output_schema': {'type': 'any', 'default': none},
        'retry_unusable_answers': {'type': 'bool', 'default': true},
        'on_pending': {'type': 'str', 'default': 'warn', 'pattern': '(warn|error|ignore)', 'hint': 'must be warn, error or ignore'},
        'unique_key': {'type': 'any', 'default': none},
        'incremental_requests': {'type': 'bool', 'default': false},
        'transport': {'type': 'str', 'default': 'bigquery', 'pattern': '(bigquery|gcs)', 'hint': 'must be bigquery or gcs'},
        'gcs_prefix': {'type': 'str', 'default': none, 'pattern': 'gs://[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](/[A-Za-z0-9._=-]+)*/?', 'hint': gcs_prefix_hint},
        'max_input_bytes_per_job': {'type': 'int', 'default': 1000000000, 'minimum': 1, 'maximum': 1000000000},
        'check_file_uris': {'type': 'str', 'default': 'sample', 'pattern': '(off|sample|all)', 'hint': 'must be off, sample or all'},
        'escalate_to': {'type': 'str', 'default': none, 'pattern': gemini_model_pattern, 'hint': gemini_model_hint},
        'escalate_when': {'type': 'str', 'default': none},
        'answer_with': {'type': 'str', 'default': 'batch', 'pattern': '(batch|inline|auto)', 'hint': 'must be batch, inline or auto'},
        'inline_max_requests': {'type': 'int', 'default': 100, 'minimum': 1},
        'inline_connection_id': {'type': 'str', 'default': none, 'pattern': '[A-Za-z0-9_./-]+', 'hint': 'must be a BigQuery connection such as us.my_connection or projects/P/locations/L/connections/C'},
    }) }}
{% endmacro %}

{#- How config keys are told apart from near misses of a setting, and how values given as text are read; the same
    constants as in settings.py (SETTING_PREFIXES, DBT_CONFIG_KEYS, NEAR_MISS_DISTANCE, INT_TEXT, FLOAT_TEXT,
    MULTI_REGIONS, TYPE_WORDS). dbt's own model configs are never near misses, even max_staleness. -#}
{% macro _settings_rules() %}
    {{ return({
        'prefixes': ['gemini_', 'vertex_', 'max_', 'poll_'],
        'near_miss_distance': 2,
        'dbt_config_keys': (
            'access alias batch_size begin column_types concurrent_batches contract database docs enabled event_time '
            ~ 'freshness full_refresh grants group incremental_strategy latest_version_pointer lookback materialized '
            ~ 'meta on_configuration_change on_error on_schema_change packages persist_docs post_hook pre_hook '
            ~ 'post-hook pre-hook quoting schema static_analysis tags unique_key sql_header description '
            ~ 'cluster_by enable_change_history enable_list_inference enable_refresh grant_access_to '
            ~ 'hours_to_expiration intermediate_format job_execution_timeout_seconds kms_key_name labels '
            ~ 'max_staleness merge_update_columns notebook_template_id partition_by partition_expiration_days '
            ~ 'partitions refresh_interval_minutes require_partition_filter reservation submission_method '
            ~ 'project dataset location'
        ).split(),
        'int_text': '-?[0-9]+',
        'float_text': '-?[0-9]+([.][0-9]*)?([eE][-+]?[0-9]+)?',
        'multi_regions': ['us', 'eu'],
        'type_words': {'int': 'a whole number', 'float': 'a number', 'bool': 'true or false', 'str': 'a string',
            'any': 'a non-empty string, list or dictionary'},
    }) }}
{% endmacro %}
