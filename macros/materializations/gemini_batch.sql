{#-
    The `gemini_batch` materialization: one model, three relations.

    For model `m` (one row per prompt: key columns plus `request`, a GenerateContentRequest as JSON text or JSON):
      m__requests   table, rebuilt every run: the model's rows + `request_hash`
      m__responses  table, persistent answer cache keyed by request_hash (kept across full refreshes, see
                    var `gemini_batch_full_refresh_discards_responses`): paid answers are never thrown away
      m__answer_history  table, persistent: per key (unique_key), every request hash answered, for previous_response
      m__collected, m__collected_judged  the job's answers the hook is writing, and their output_state (the hook
                    judges each answer in the statement that writes it: _create_collect_relations.sql)
      m             view: requests left-joined to responses; downstream models ref('m') and parse `response`

    dbt itself never calls Vertex: the Python hook (`dbt-gemini-batch run|build`, or `dbt-gemini-batch submit` after a
    plain `dbt run`) sends the pending request hashes and merges the answers into m__responses.
    Every check that can fail on the model's rows runs here, before anything can be submitted.
    Grants, grant_access_to, persist_docs, contracts and the wrong-type rule mirror dbt-bigquery's view and table
    materializations (dbt/include/bigquery/macros/materializations/{view,table}.sql, relations/view/replace.sql).
-#}
{% materialization gemini_batch, adapter='bigquery' %}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set requests_relation = gemini_batch._requests_relation(this) -%}
    {%- set responses_relation = gemini_batch._responses_relation(this) -%}
    {#- Settings and location first: a wrong key or value stops the model before anything is built or sent. -#}
    {%- set settings = gemini_batch._validate_settings(model) -%}
    {#- The location rule is for Vertex batch jobs: with answer_with inline, AI.GENERATE answers in any dataset,
        the US and EU multi-regions included (requests it cannot answer then wait, said by on_pending). -#}
    {%- if settings.answer_with != 'inline' -%}
        {%- do gemini_batch._check_vertex_location(this) -%}
    {%- endif -%}
    {%- set gemini_model = gemini_batch._gemini_model(config) -%}

    {%- set grant_config = config.get('grants') -%}
    {%- set full_refresh = should_full_refresh() -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- set existing_requests = adapter.get_relation(
        database=requests_relation.database, schema=requests_relation.schema, identifier=requests_relation.identifier) -%}
    {%- set existing_responses = adapter.get_relation(
        database=responses_relation.database, schema=responses_relation.schema,
        identifier=responses_relation.identifier) -%}
    {#- A table with the model's name is only replaced under --full-refresh, as dbt-bigquery's view materialization
        does (bigquery__handle_existing_table); checked first so that nothing is built when it fails. -#}
    {%- if existing is not none and not existing.is_view and not full_refresh -%}
        {{ exceptions.relation_wrong_type(existing, 'view') }}
    {%- endif -%}

    {{ run_hooks(pre_hooks) }}

    {#- 1. The new m__requests, built once into a staging table unique to this invocation: the model's SQL runs
           once per run, and every check below reads the built rows. The same statement reads the answer cache's
           hash, status and attempt columns once and writes each row's state (gemini_batch_state), which the
           counts, the check and the hook's pending selection read instead of the cache or the requests. With a
           full refresh that discards the answers, every row is never answered. -#}
    {%- set discard = full_refresh and var('gemini_batch_full_refresh_discards_responses', false) -%}
    {%- set cache = none if discard else existing_responses -%}
    {%- if cache is not none -%}
        {%- do gemini_batch._add_judged_at_column(cache) -%}
    {%- endif -%}
    {#- The ledger's mark for the cache, before the staging statement reads it: handed to the hook with the count
        (_publish_counts) so that it can select the pending rows by their staged state while no answer came since.
        Only for the hook (`dbt-gemini-batch run|build`) of a batch model built whole: incremental_requests keeps
        rows of earlier builds, a cascade writes the same cache from its second model, inline answers write it below. -#}
    {%- set ledger_mark = gemini_batch._ledger_mark(cache) if cache is not none and gemini_batch._hook_active()
        and settings.answer_with == 'batch' and settings.escalate_to is none and not settings.incremental_requests
        else none -%}
    {%- set staging_table = gemini_batch._stage_requests(this, sql, gemini_model, settings.escalate_to, cache,
        settings.max_attempts, settings.retry_unusable_answers, settings.unique_key, existing_requests) -%}
    {#- One count of the staged rows' states (two small columns): whether any row needs the check, whether any answer
        needs judging, and, while nothing below changes the answers, the model's pending count for on_pending and for
        the hook (which then does not count them again: _publish_counts). -#}
    {%- set staged_counts = gemini_batch._count_staged(staging_table, settings.max_attempts) if cache is not none else none -%}
    {%- set incremental = settings.incremental_requests and existing_requests is not none and not full_refresh -%}

    {#- 2. Reject rows that would reach Vertex broken, naming them, before m__requests changes: the hook (or a later
           `dbt-gemini-batch submit`) only ever sees checked rows. Only rows that would be sent are checked (hashes
           not answered successfully yet), so an unchanged re-run parses no JSON. -#}
    {%- set problem = gemini_batch._check_requests(staging_table, cache, staged_counts) -%}
    {%- set history_relation = gemini_batch._history_relation(this) -%}
    {%- set key_columns = gemini_batch._key_columns(staging_table, settings.unique_key) if problem is none else [] -%}
    {%- if problem is none -%}
        {#- Last good answer: the keys whose request changed are recorded with their earlier hashes, read from the
            staged rows (the staging CTAS compared them with the m__requests being replaced), before it goes. -#}
        {%- set old_columns = [] if existing_requests is none
            else adapter.get_columns_in_relation(existing_requests) | map(attribute='name') | map('lower') | list -%}
        {%- if staged_counts is not none and staged_counts.changed_keys > 0 and key_columns -%}
            {%- do gemini_batch._record_changed_keys(history_relation, staging_table) -%}
        {%- endif -%}
        {#- incremental_requests: the staged rows are only the new or changed ones (gemini_batch.is_incremental_requests()) -#}
        {%- if incremental -%}
            {%- do gemini_batch._add_requests(staging_table, requests_relation, key_columns) -%}
        {%- else -%}
            {#- A copy over a table of other columns (the model's columns changed, or an m__requests of an older
                release) is refused by the local BigQuery; m__requests is rebuilt whole anyway, so it goes first. -#}
            {%- set staged_columns = adapter.get_columns_in_relation(staging_table) | map(attribute='name') | map('lower') | list -%}
            {%- if existing_requests is not none and old_columns != staged_columns -%}
                {%- do adapter.drop_relation(existing_requests) -%}
            {%- endif -%}
            {%- do adapter.copy_table(staging_table, requests_relation, 'table') -%}
        {%- endif -%}
    {%- endif -%}
    {#- The staging table goes on every path that returns here; its expiration covers the ones that cannot. -#}
    {%- call statement('gemini_batch_unstage') -%}
        drop table if exists {{ staging_table }}
    {%- endcall -%}
    {%- if problem is not none -%}
        {{ exceptions.raise_compiler_error(problem) }}
    {%- endif -%}
    {#- A copy keeps the staging table's short expiration; m__requests gets the model's own table options. -#}
    {%- call statement('gemini_batch_requests_options') -%}
        alter table {{ requests_relation }} set {{ gemini_batch._table_options('requests') }}
    {%- endcall -%}

    {#- The answer fields: the output_schema setting, else the one responseSchema every request shares. -#}
    {%- set output_schema = settings.output_schema or gemini_batch._shared_response_schema(requests_relation) -%}
    {%- do gemini_batch._check_output_columns(requests_relation, output_schema) -%}

    {#- 3. The persistent answer cache. -#}
    {%- if discard and existing_responses is not none -%}
        {{ log('gemini_batch: full refresh with gemini_batch_full_refresh_discards_responses=true: dropping '
               ~ responses_relation ~ ' (paid answers are discarded)', info=true) }}
        {{ adapter.drop_relation(existing_responses) }}
        {%- set existing_responses = none -%}
    {%- endif -%}
    {{ gemini_batch._create_responses_table(responses_relation) }}
    {%- do gemini_batch._create_history_table(history_relation) -%}
    {#- A cascade's decisions and the second model's requests (_escalation.sql). -#}
    {%- set escalations_relation = none -%}
    {%- if settings.escalate_to is not none -%}
        {%- set escalations_relation = gemini_batch._create_escalation_relations(this, requests_relation) -%}
    {%- endif -%}
    {%- do gemini_batch._create_collect_relations(this, output_schema) -%}
    {%- set marked = false -%}
    {%- if settings.retry_unusable_answers and existing_responses is not none -%}
        {%- set marked = gemini_batch._mark_unusable_answers(requests_relation, responses_relation, output_schema,
            staged_counts.unjudged if staged_counts is not none and not incremental else none) -%}
    {%- endif -%}
    {#- The staged count still describes m__requests against the cache: the staged rows are all of m__requests (not
        incremental) and no answer was marked unusable since. -#}
    {%- set counts = staged_counts if staged_counts is not none and not incremental and not marked else none -%}

    {#- 3b. answer_with inline/auto: the pending requests answered here with BigQuery's AI.GENERATE, into the same
            cache (_answer_inline.sql); what it cannot express is left for a batch job. Nothing pending: nothing to
            do. -#}
    {%- if counts is none or counts.pending > 0 -%}
        {%- do gemini_batch._answer_inline(this, requests_relation, responses_relation, settings, gemini_model) -%}
    {%- endif -%}
    {%- do gemini_batch._publish_counts(requests_relation, responses_relation, counts, ledger_mark) -%}

    {#- 4. The model itself: a view joining requests to answers. Only this statement asserts an enforced contract:
           the contract describes the model's relation, not the staging steps. -#}
    {%- if existing is not none and not existing.is_view -%}
        {{ adapter.drop_relation(existing) }}
    {%- endif -%}
    {%- call statement('gemini_batch_view') -%}
        {{ create_view_as(target_relation, gemini_batch._joined_view_sql(requests_relation, responses_relation, output_schema, settings, history_relation, key_columns, escalations_relation)) }}
    {%- endcall -%}

    {{ run_hooks(post_hooks) }}

    {#- 5. Access and docs on all three relations: a reader of the view needs the tables too. -#}
    {%- if config.get('grant_access_to') -%}
        {%- for grant_target_dict in config.get('grant_access_to') -%}
            {%- do adapter.grant_access_to(this, 'view', none, grant_target_dict) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do apply_grants(target_relation, grant_config, should_revoke(existing is not none and existing.is_view, full_refresh_mode=True)) -%}
    {%- do apply_grants(requests_relation, grant_config, should_revoke(existing_requests, full_refresh_mode=True)) -%}
    {%- do apply_grants(responses_relation, grant_config, should_revoke(existing_responses, full_refresh_mode=False)) -%}
    {%- do persist_docs(target_relation, model) -%}
    {%- do gemini_batch._persist_table_docs(requests_relation) -%}
    {%- do gemini_batch._persist_table_docs(responses_relation) -%}

    {#- 6. Pending work is never silent: without the hook, say how many requests wait (on_pending). -#}
    {%- if settings.on_pending != 'ignore' and not gemini_batch._hook_active() -%}
        {%- set pending = counts if counts is not none and counts.pending == 0
            else gemini_batch._count_pending(requests_relation, responses_relation, settings.max_attempts) -%}
        {%- if pending.pending > 0 -%}
            {%- set message = 'gemini_batch model ' ~ model.name ~ ': ' ~ pending.message -%}
            {%- do store_raw_result(name='main', message=pending.pending ~ ' requests pending', code='gemini_batch',
                rows_affected=pending.pending) -%}
            {%- if settings.on_pending == 'error' -%}
                {{ exceptions.raise_compiler_error(message ~ ' (on_pending: error)') }}
            {%- endif -%}
            {%- do exceptions.warn(message) -%}
        {%- elif pending.given_up > 0 -%}
            {#- Dead letters are never silent either: said in the log (not a warning, which --warn-error would turn
                into a failure at every run; answer_rate's max_given_up is the test that fails or warns). -#}
            {{ log('gemini_batch model ' ~ model.name ~ ': ' ~ pending.given_up ~ ' request(s) given up after '
                ~ 'max_attempts (dead letters, never sent again); `dbt-gemini-batch status --failed --select '
                ~ model.name ~ '` lists them', info=true) }}
        {%- endif -%}
    {%- endif -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
