{#-
    The `gemini_batch` materialization: one model, three relations.

    For model `m` (one row per prompt: key columns plus `request`, a GenerateContentRequest as JSON text or JSON):
      m__requests   table, rebuilt every run: the model's rows + `request_hash`
      m__responses  table, persistent answer cache keyed by request_hash (kept across full refreshes, see
                    var `gemini_batch_full_refresh_discards_responses`): paid answers are never thrown away
      m             view: requests left-joined to responses; downstream models ref('m') and parse `response`

    dbt itself never calls Vertex: the Python hook (`dbt-gemini-batch run|build`, or `dbt-gemini-batch submit` after a
    plain `dbt run`) sends the pending request hashes and merges the answers into m__responses.
    Every check that can fail on the model's rows runs here, before anything can be submitted.
-#}
{% materialization gemini_batch, adapter='bigquery' %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set requests_relation = gemini_batch._requests_relation(this) -%}
    {%- set responses_relation = gemini_batch._responses_relation(this) -%}
    {%- set staging_view = this.incorporate(path={'identifier': this.identifier ~ '__dbt_gemini_batch_tmp'}, type='view') -%}
    {%- set gemini_model = gemini_batch._gemini_model(config) -%}
    {%- do gemini_batch._check_vertex_location(this) -%}

    {{ run_hooks(pre_hooks) }}
    {%- do gemini_batch._validate_settings(model) -%}

    {#- 1. The model's SQL as a view (scans nothing) so its column names and types can be checked first. -#}
    {%- call statement('gemini_batch_stage') -%}
        {{ create_view_as(staging_view, sql) }}
    {%- endcall -%}
    {%- set request_type = gemini_batch._check_model_columns(staging_view) -%}

    {#- 2. Reject rows that would reach Vertex broken, naming them, before m__requests changes: the hook (or a later
           `dbt-gemini-batch submit`) only ever sees checked rows. -#}
    {%- set request_text = 'to_json_string(request)' if request_type == 'JSON' else 'request' -%}
    {%- set problem = gemini_batch._check_requests(staging_view, request_text) -%}
    {%- if problem is none -%}
        {#- 3. m__requests: the rows plus the hash that identifies an answer (Gemini model + request text). -#}
        {%- call statement('main') -%}
            {{ gemini_batch._create_requests_table(requests_relation, staging_view, request_text, gemini_model) }}
        {%- endcall -%}
    {%- endif -%}
    {#- SQL rather than adapter.drop_relation: bqemulator's tables.delete cannot drop a view (it issues DROP TABLE). -#}
    {%- call statement('gemini_batch_unstage') -%}
        drop view if exists {{ staging_view }}
    {%- endcall -%}
    {%- if problem is not none -%}
        {{ exceptions.raise_compiler_error(problem) }}
    {%- endif -%}

    {#- 4. The persistent answer cache. -#}
    {%- set discard = should_full_refresh() and var('gemini_batch_full_refresh_discards_responses', false) -%}
    {%- if discard -%}
        {{ log('gemini_batch: full refresh with gemini_batch_full_refresh_discards_responses=true: dropping '
               ~ responses_relation ~ ' (paid answers are discarded)', info=true) }}
        {{ adapter.drop_relation(responses_relation) }}
    {%- endif -%}
    {%- call statement('gemini_batch_responses') -%}
        {{ gemini_batch._create_responses_table(responses_relation) }}
    {%- endcall -%}

    {#- 5. The model itself: a view joining requests to answers. A table left by another materialization is replaced. -#}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if existing is not none and not existing.is_view -%}
        {{ adapter.drop_relation(existing) }}
    {%- endif -%}
    {%- call statement('gemini_batch_view') -%}
        {{ create_view_as(target_relation, gemini_batch._joined_view_sql(requests_relation, responses_relation)) }}
    {%- endcall -%}

    {{ run_hooks(post_hooks) }}
    {% do persist_docs(target_relation, model) %}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
