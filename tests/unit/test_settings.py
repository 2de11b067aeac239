"""Per-model settings: one registry, read from meta then top-level config then environment, checked the same way in
Python (the hook, from the manifest) and in Jinja (the materialization, rendered here with the macros' own source)."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from gemini_batch import settings as settings_module
from gemini_batch.settings import (
    DBT_CONFIG_KEYS,
    DEFAULT_GEMINI_MODEL,
    MAX_REQUESTS_PER_JOB,
    SettingsError,
    closest_setting,
    edit_distance,
    registry,
    settings_for,
)

REPO = Path(__file__).resolve().parents[2]
SETTINGS_MACROS = REPO / "macros" / "settings"


# -- the Jinja side, rendered the way dbt calls macros ---------------------------------------------------------------


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _CompilerError(Exception):
    pass


def _raise_return(value: Any) -> None:
    raise _Return(value)


def _raise_compiler_error(message: str) -> None:
    raise _CompilerError(message)


class _Package:
    """`gemini_batch.<macro>(...)` as in dbt: a macro's `return()` value, else its rendered text."""

    def __init__(self) -> None:
        self.macros: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        macro = self.macros[name]

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return macro(*args, **kwargs)
            except _Return as returned:
                return returned.value

        return call


def jinja_package(env: Mapping[str, str] | None = None) -> _Package:
    return _jinja_package(tuple(sorted((env or {}).items())))


@functools.cache
def _jinja_package(env_items: tuple[tuple[str, str], ...]) -> _Package:
    """The macros of macros/settings/ and _gemini_model, loaded into a plain Jinja environment with dbt's globals."""
    environment = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"], autoescape=False)  # noqa: S701 - SQL, not HTML
    package = _Package()
    environment.globals.update(
        gemini_batch=package,
        modules=SimpleNamespace(re=re),
        exceptions=SimpleNamespace(raise_compiler_error=_raise_compiler_error),
        env_var=lambda name, default=None: dict(env_items).get(name, default),
        tojson=json.dumps,
        **{"return": _raise_return},
    )
    files = [*sorted(SETTINGS_MACROS.glob("*.sql")), REPO / "macros/materializations/gemini_batch/_relations.sql"]
    template = environment.from_string("\n".join(p.read_text() for p in files))
    context = template.new_context()
    for _ in template.root_render_func(context):  # defines the macros (a module would hide the `_` ones)
        pass
    package.macros = context.vars
    return package


def jinja_validate(config: dict[str, Any], env: Mapping[str, str] | None = None) -> dict[str, Any]:
    try:
        result: dict[str, Any] = jinja_package(env)._validate_settings({"name": "review_insights", "config": config})
    except _CompilerError as err:
        raise SettingsError(str(err)) from err
    return result


# -- the registry --------------------------------------------------------------------------------------------------


def test_the_jinja_registry_matches_the_python_registry() -> None:
    jinja = jinja_package()._settings_registry()
    python = {
        info.name: {
            "type": info.type,
            "default": info.default,
            **{k: v for k, v in dataclasses.asdict(info.spec).items() if v is not None and k != "description"},
        }
        for info in registry().values()
    }
    assert list(jinja) == list(python)  # same order: ties in the near-miss search go to the first one
    assert jinja == python


def test_the_jinja_name_and_value_rules_match_the_python_constants() -> None:
    rules = jinja_package()._settings_rules()
    assert tuple(rules["prefixes"]) == settings_module.SETTING_PREFIXES
    assert set(rules["dbt_config_keys"]) == DBT_CONFIG_KEYS
    assert rules["near_miss_distance"] == settings_module.NEAR_MISS_DISTANCE
    assert rules["int_text"] == settings_module.INT_TEXT
    assert rules["float_text"] == settings_module.FLOAT_TEXT
    assert tuple(rules["multi_regions"]) == settings_module.MULTI_REGIONS
    assert rules["type_words"] == settings_module.TYPE_WORDS


def test_every_dbt_model_config_is_known_so_never_flagged() -> None:
    from dbt.adapters.bigquery.impl import BigqueryConfig
    from dbt.artifacts.resources import ModelConfig

    dbt_fields = {f.name for cls in (ModelConfig, BigqueryConfig) for f in dataclasses.fields(cls)} - {"_extra"}
    assert dbt_fields <= DBT_CONFIG_KEYS
    assert closest_setting("max_staleness") is None  # a BigQuery config that starts like our max_ settings


# -- near misses -------------------------------------------------------------------------------------------------

NEAR_MISSES = [
    ("gemini_modle", "gemini_model"),  # swapped letters
    ("gemni_model", "gemini_model"),
    ("Gemini_Model", "gemini_model"),  # case
    ("gemini-model", "gemini_model"),  # dash
    ("model_gemini", "gemini_model"),  # words reordered
    ("attempts_max", "max_attempts"),
    ("max_attempt", "max_attempts"),
    ("vertex_region", "vertex_location"),  # known prefix
    ("gemini_version", "gemini_model"),
    ("poll_max_second", "poll_max_seconds"),
    ("max_request_per_job", "max_requests_per_job"),
]
NOT_NEAR_MISSES = ["gemini_model", "max_attempts", "tags", "owner", "materialized", "max_staleness", "labels",
                   "persist_docs", "grants", "alias", "unique_key", "contains_pii", "team"]  # fmt: skip


@pytest.mark.parametrize(("key", "meant"), NEAR_MISSES)
def test_near_misses_name_the_closest_setting_in_python_and_jinja(key: str, meant: str) -> None:
    assert closest_setting(key) == meant
    assert jinja_package()._closest_setting(key) == meant


@pytest.mark.parametrize("key", NOT_NEAR_MISSES)
def test_settings_dbt_configs_and_unrelated_keys_are_not_near_misses(key: str) -> None:
    assert closest_setting(key) is None
    assert jinja_package()._closest_setting(key) is None


@pytest.mark.parametrize(("a", "b"), [("", "abc"), ("kitten", "sitting"), ("gemini_modle", "gemini_model"), ("a", "a")])
def test_edit_distance_agrees(a: str, b: str) -> None:
    assert jinja_package()._settings_edit_distance(a, b) == edit_distance(a, b)
    assert edit_distance("kitten", "sitting") == 3


# -- the same errors from both sides -------------------------------------------------------------------------------

BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"gemini_modle": "x"}, "config key 'gemini_modle' is not a gemini_batch setting; did you mean 'gemini_model'"),
    ({"meta": {"gemini_modle": "x"}}, "meta key 'gemini_modle' is not a gemini_batch setting; did you mean"),
    ({"meta": {"gemini_model": "gemini-2.5-pro"}, "gemini_model": "gemini-2.5-flash"}, "is set both in meta"),
    ({"meta": "gemini-2.5-pro"}, "config meta must be a dictionary"),
    ({"max_requests_per_job": 200_001}, 'max_requests_per_job=200001 (from config) must be between 1 and 200000'),
    ({"meta": {"max_requests_per_job": 0}}, "max_requests_per_job=0 (from meta) must be between 1 and 200000"),
    ({"max_attempts": 0}, "max_attempts=0 (from config) must be at least 1"),
    ({"max_attempts": "lots"}, 'max_attempts="lots" (from config) must be a whole number'),
    ({"max_attempts": 2.5}, "max_attempts=2.5 (from config) must be a whole number"),
    ({"max_attempts": True}, "max_attempts=true (from config) must be a whole number"),
    ({"keep_job_tables": "perhaps"}, 'keep_job_tables="perhaps" (from config) must be true or false'),
    ({"poll_max_seconds": 0}, "poll_max_seconds=0 (from config) must be greater than 0"),
    ({"max_wait_hours": -1}, "max_wait_hours=-1 (from config) must be greater than 0"),
    ({"poll_initial_seconds": 600}, "poll_initial_seconds=600.0 is greater than poll_max_seconds=300.0"),
    ({"gemini_model": "Gemini 2.5 Flash"}, 'gemini_model="Gemini 2.5 Flash" (from config) must be a Gemini model name'),
    ({"meta": {"gemini_model": "gpt-4o"}}, 'gemini_model="gpt-4o" (from meta) must be a Gemini model name'),
    ({"gemini_model": 2.5}, "gemini_model=2.5 (from config) must be a string"),
    ({"gemini_model": ""}, 'gemini_model="" (from config) must be a string'),
    ({"vertex_location": "US"}, 'vertex_location="US" (from config) is a BigQuery multi-region, not a Vertex AI'),
    ({"vertex_location": "us"}, "set vertex_location to a region inside it (for example us-central1 for US,"),
    ({"meta": {"vertex_location": "eu"}}, "europe-west4 for EU"),
    ({"vertex_location": "us central1"}, "must be a Vertex AI region in lower case, such as us-central1"),
    ({"vertex_location": "US-CENTRAL1"}, "must be a Vertex AI region in lower case"),
    ({"meta": {"transport": "s3"}}, 'transport="s3" (from meta) must be bigquery or gcs'),
    ({"meta": {"transport": "gcs"}}, "transport=gcs needs gcs_prefix, the Cloud Storage folder for the jobs' JSONL"),
    ({"meta": {"transport": "gcs", "gcs_prefix": "my-bucket/x"}}, 'gcs_prefix="my-bucket/x" (from meta) must be'),
    ({"meta": {"gcs_prefix": "gs://My_Bucket/x"}}, "a bucket name of 3-63 lower-case letters"),
    ({"meta": {"gcs_prefix": "gs://ab/x"}}, "must be a Cloud Storage folder gs://BUCKET"),
    ({"meta": {"gcs_prefix": "gs://-bucket/x"}}, "must be a Cloud Storage folder gs://BUCKET"),
    ({"meta": {"gcs_prefix": "gs://bucket/in/*.jsonl"}}, "(no wildcards)"),
    ({"meta": {"gcs_prefix": "gs://bucket/a b"}}, "must be a Cloud Storage folder gs://BUCKET"),
    ({"meta": {"gcs_prfix": "gs://bucket"}}, "'gcs_prfix' is not a gemini_batch setting; did you mean 'gcs_prefix'"),
    ({"meta": {"check_file_uris": "some"}}, 'check_file_uris="some" (from meta) must be off, sample or all'),
    ({"meta": {"check_file_uris": False}}, "check_file_uris=false (from meta) must be a string (YAML reads a bare off"),
]  # fmt: skip


@pytest.mark.parametrize(("config", "message"), BAD_CONFIGS)
def test_bad_settings_stop_the_model_with_the_same_message_in_python_and_jinja(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError) as python_err:
        settings_for("review_insights", config, env={})
    with pytest.raises(SettingsError) as jinja_err:
        jinja_validate(config)
    assert message in str(python_err.value)
    assert str(python_err.value).startswith("model review_insights: ")
    assert str(jinja_err.value) == str(python_err.value)


GOOD_MODELS = [
    "gemini-2.5-flash", "gemini-2.5-flash-001", "gemini-2.0-flash-lite-001", "gemini-3-pro-preview",
    "gemini-2.5-flash@default", "models/gemini-2.5-pro", "publishers/google/models/gemini-2.5-flash-lite",
    "projects/my-project/locations/us-central1/models/1234567890",
    "projects/123/locations/europe-west4/endpoints/987",
]  # fmt: skip


@pytest.mark.parametrize("model", GOOD_MODELS)
def test_model_name_shapes_that_are_accepted(model: str) -> None:
    assert settings_for("m", {"meta": {"gemini_model": model}}, env={}).gemini_model == model
    assert jinja_validate({"meta": {"gemini_model": model}})["gemini_model"] == model


# -- precedence ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, DEFAULT_GEMINI_MODEL),
        ({"gemini_model": "gemini-2.5-pro"}, "gemini-2.5-pro"),
        ({"meta": {"gemini_model": "gemini-2.5-pro"}}, "gemini-2.5-pro"),
        ({"meta": {"gemini_model": "gemini-2.5-pro"}, "gemini_model": "gemini-2.5-pro"}, "gemini-2.5-pro"),
        ({"meta": {"owner": "data-team"}, "gemini_model": "gemini-2.0-flash-001"}, "gemini-2.0-flash-001"),
    ],
)
def test_hash_model_and_hook_model_agree(config: dict[str, Any], expected: str) -> None:
    """request_hash uses _gemini_model(config); the hook sends settings_for(...).gemini_model: they must be equal."""
    assert jinja_package()._gemini_model(config) == expected
    assert settings_for("m", config, env={}).gemini_model == expected
    assert jinja_validate(config)["gemini_model"] == expected


def test_defaults_without_config_or_environment() -> None:
    s = settings_for("m", {}, env={})
    assert s.gemini_model == DEFAULT_GEMINI_MODEL
    assert s.max_requests_per_job == MAX_REQUESTS_PER_JOB == 200_000
    assert s.vertex_endpoint is None and s.vertex_location is None
    assert s.model_resource == f"publishers/google/models/{DEFAULT_GEMINI_MODEL}"
    assert jinja_validate({}) == dataclasses.asdict(s)


def test_meta_beats_config_beats_environment_and_text_and_floats_are_converted() -> None:
    env = {"GEMINI_BATCH_VERTEX_LOCATION": "europe-west4", "GEMINI_BATCH_VERTEX_ENDPOINT": "http://127.0.0.1:1"}
    config = {
        "vertex_location": "us-east1",
        "meta": {"max_attempts": 5.0, "keep_job_tables": "true", "max_requests_per_job": "1000"},
    }
    s = settings_for("m", config, env=env)
    assert s.vertex_location == "us-east1"
    assert s.vertex_endpoint == "http://127.0.0.1:1"
    assert s.max_attempts == 5 and isinstance(s.max_attempts, int)
    assert s.keep_job_tables is True
    assert s.max_requests_per_job == 1000
    assert jinja_validate(config, env=env) == dataclasses.asdict(s)


def test_poll_cadence_from_environment_and_bad_environment_values_name_the_variable() -> None:
    env = {"GEMINI_BATCH_POLL_INITIAL_SECONDS": "0.5", "GEMINI_BATCH_POLL_MAX_SECONDS": "2"}
    s = settings_for("m", {}, env=env)
    assert (s.poll_initial_seconds, s.poll_max_seconds) == (0.5, 2.0)
    with pytest.raises(SettingsError, match="from environment variable GEMINI_BATCH_VERTEX_LOCATION"):
        settings_for("m", {}, env={"GEMINI_BATCH_VERTEX_LOCATION": "EU"})


@pytest.mark.parametrize(
    "prefix", ["gs://my-bucket", "gs://my-bucket/", "gs://my_bucket.example/gemini-batch/runs=1", "gs://b01/a/b/c"]
)
def test_cloud_storage_transport_settings_that_are_accepted(prefix: str) -> None:
    config = {"meta": {"transport": "gcs", "gcs_prefix": prefix}}
    s = settings_for("m", config, env={})
    assert (s.transport, s.gcs_prefix) == ("gcs", prefix)
    assert jinja_validate(config) == dataclasses.asdict(s)
    # a prefix alone keeps the default transport: the BigQuery one
    assert settings_for("m", {"meta": {"gcs_prefix": prefix}}, env={}).transport == "bigquery"


def test_tuned_and_full_resource_models_are_passed_through() -> None:
    tuned = "projects/p/locations/us-central1/models/123"
    assert settings_for("m", {"gemini_model": tuned}, env={}).model_resource == tuned


def test_dbt_configs_in_a_real_manifest_node_are_not_flagged() -> None:
    """A node config as dbt writes it in the manifest (every dbt config, hyphenated hooks) passes the key check."""
    from dbt.artifacts.resources import ModelConfig

    config = ModelConfig(materialized="gemini_batch", meta={"gemini_model": "gemini-2.5-pro", "owner": "x"}).to_dict()
    assert "pre-hook" in config
    assert settings_for("m", config, env={}).gemini_model == "gemini-2.5-pro"
    assert jinja_validate(config)["gemini_model"] == "gemini-2.5-pro"


def test_a_local_bigquery_target_without_a_vertex_endpoint_is_refused() -> None:
    from gemini_batch.clients import LocalEndpointError, job_service_client

    credentials = SimpleNamespace(api_endpoint="http://127.0.0.1:9050")
    with pytest.raises(LocalEndpointError, match="GEMINI_BATCH_VERTEX_ENDPOINT is not set"):
        job_service_client(credentials, settings_for("m", {}, env={}), "us-central1")


def test_every_problem_of_a_model_is_named_at_once_in_python_and_jinja() -> None:
    config = {
        "meta": {"gemini_modle": "gemini-2.5-flash", "transport": "s3", "max_attempts": 0},
        "vertex_location": "US",
    }
    with pytest.raises(SettingsError) as python_err:
        settings_for("review_insights", config, env={})
    with pytest.raises(SettingsError) as jinja_err:
        jinja_validate(config)
    message = str(python_err.value)
    assert message.startswith("model review_insights: 4 settings problems: (1) meta key 'gemini_modle' is not a ")
    # then the settings in the registry's order
    assert '(2) vertex_location="US" (from config) is a BigQuery multi-region' in message
    assert "(3) max_attempts=0 (from meta) must be at least 1" in message
    assert '(4) transport="s3" (from meta) must be bigquery or gcs' in message
    assert str(jinja_err.value) == message


def test_a_bad_value_is_not_also_reported_as_a_clash_with_another_setting() -> None:
    config = {"meta": {"poll_initial_seconds": "soon", "poll_max_seconds": 1, "transport": "gcs", "gcs_prefix": "x"}}
    with pytest.raises(SettingsError) as python_err:
        settings_for("review_insights", config, env={})
    message = str(python_err.value)
    assert message.startswith("model review_insights: 2 settings problems: ")
    assert "greater than" not in message and "needs gcs_prefix" not in message
    with pytest.raises(SettingsError) as jinja_err:
        jinja_validate(config)
    assert str(jinja_err.value) == message
