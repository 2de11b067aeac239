{#- Stops the model before anything is built when its Vertex batch jobs could not read its dataset: a job location
    that is a BigQuery multi-region (US, EU), or a dataset in another region than the job. Vertex: "The region of the
    input BigQuery dataset must be the same as the Vertex AI batch prediction job"
    (cloud.google.com/vertex-ai/generative-ai/docs/model-reference/batch-prediction-api). The Python hook checks the
    same before it submits (gemini_batch/batch/preflight.py); resolving the location follows its precedence: model
    config (in meta or top level), GEMINI_BATCH_VERTEX_LOCATION, the target's location, us-central1. `global` jobs
    are not compared with the dataset's region (Google documents no same-region rule for them). -#}
{% macro _check_vertex_location(model_relation) %}
    {%- if execute -%}
        {%- set job_location = (
            gemini_batch._setting_value(config, 'vertex_location') or target.location or 'us-central1'
        ) | lower -%}
        {%- if job_location in ['us', 'eu'] -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ": the batch job location is " ~ job_location | upper ~ ", a BigQuery multi-region, "
                ~ "which Vertex AI batch prediction does not accept: keep the model's dataset in a region (e.g. "
                ~ "us-central1, europe-west4) and set that region as the target's `location` (or vertex_location / "
                ~ "GEMINI_BATCH_VERTEX_LOCATION)"
            ) }}
        {%- endif -%}
        {%- set dataset_location = (adapter.get_dataset_location(model_relation) or '') | lower -%}
        {%- if dataset_location in ['us', 'eu'] -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ": its dataset " ~ model_relation.database ~ "." ~ model_relation.schema
                ~ " is in the BigQuery multi-region " ~ dataset_location | upper ~ ", which Vertex AI batch "
                ~ "prediction cannot read: build the model in a dataset in a region (set the target's `location` "
                ~ "or the model's schema to one)"
            ) }}
        {%- endif -%}
        {%- if job_location != 'global' and dataset_location != job_location -%}
            {{ exceptions.raise_compiler_error(
                model.name ~ ": its dataset " ~ model_relation.database ~ "." ~ model_relation.schema ~ " is in "
                ~ dataset_location ~ " but its batch jobs would run in " ~ job_location ~ "; Vertex AI reads only "
                ~ "datasets in the job's region: set vertex_location (or GEMINI_BATCH_VERTEX_LOCATION) to "
                ~ dataset_location ~ ", or build the model in a dataset in " ~ job_location
            ) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}
