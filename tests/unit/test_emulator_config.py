"""EmulatorConfig: construction from dicts, files and the environment; runtime merges; validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gemini_batch.emulator.config import ENV_VAR, EmulatorConfig, OpenAIConfig


def test_defaults_suit_fast_tests() -> None:
    config = EmulatorConfig()
    assert config.queue_delay_seconds < 1
    assert config.responder == "deterministic"
    assert config.api_error_codes == [429, 503]
    assert config.project_number == "123456789012"
    assert config.max_input_rows == 200_000


def test_from_dict_and_merge_keep_other_settings() -> None:
    config = EmulatorConfig.from_dict({"row_failure_rate": 0.1, "openai": {"model": "qwen"}})
    merged = config.merged({"openai": {"base_url": "http://127.0.0.1:1/v1"}, "fail_jobs": ["a*", "b*"]})
    assert merged.row_failure_rate == 0.1
    assert merged.openai == OpenAIConfig(base_url="http://127.0.0.1:1/v1", model="qwen")
    assert merged.fail_jobs == ["a*", "b*"]
    assert config.fail_jobs is False, "merging returns a copy"
    assert EmulatorConfig.from_dict(merged.to_dict()) == merged


def test_from_file_and_env(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    path.write_text(json.dumps({"queue_delay_seconds": 1.5, "project_number": 42}))
    assert EmulatorConfig.from_file(path).queue_delay_seconds == 1.5
    assert EmulatorConfig.from_file(path).project_number == "42"
    assert EmulatorConfig.from_env({ENV_VAR: str(path)}).queue_delay_seconds == 1.5
    assert EmulatorConfig.from_env({}) == EmulatorConfig()


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"queue_delay": 1}, "unknown emulator config keys"),
        ({"openai": {"key": "x"}}, "unknown openai config keys"),
        ({"row_failure_rate": 1.5}, "row_failure_rate"),
        ({"api_error_rate": -0.1}, "api_error_rate"),
        ({"api_error_codes": [404]}, "api_error_codes"),
        ({"api_error_codes": []}, "api_error_codes"),
        ({"api_error_methods": ["patch"]}, "api_error_methods"),
        ({"row_failure_code": 404}, "row_failure_code"),
        ({"responder": "gpt"}, "responder"),
        ({"chunk_rows": 0}, "chunk_rows"),
        ({"resource_name_project": "name"}, "resource_name_project"),
        ({"existing_output_table": "replace"}, "existing_output_table"),
        ({"project_number": "12ab"}, "project_number"),
        ({"run_delay_seconds": -1}, "run_delay_seconds"),
    ],
)
def test_invalid_settings_are_refused(patch: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EmulatorConfig().merged(patch)


def test_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "sk-local")
    settings = OpenAIConfig(api_key_env="MY_LLM_KEY")
    assert settings.api_key() == "sk-local"
    assert "sk-local" not in json.dumps(EmulatorConfig(openai=settings).to_dict())
    assert OpenAIConfig().api_key() is None
