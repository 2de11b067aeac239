"""Fault injection is reproducible: evenly spaced API errors, hashed row failures, display-name globs."""

from __future__ import annotations

from gemini_batch.emulator.config import EmulatorConfig
from gemini_batch.emulator.faults import ApiFaults, job_fails, row_dropped, row_fails


def schedule(faults: ApiFaults, config: EmulatorConfig, calls: int, method: str = "get") -> list[int]:
    outcomes = []
    for _ in range(calls):
        error = faults.check(method, config)
        outcomes.append(error.http_status if error else 200)
    return outcomes


def test_api_errors_are_evenly_spaced_and_cycle_codes() -> None:
    config = EmulatorConfig(api_error_rate=0.25, api_error_codes=[429, 503])
    assert schedule(ApiFaults(), config, 8) == [200, 200, 200, 429, 200, 200, 200, 503]
    always = EmulatorConfig(api_error_rate=1.0, api_error_codes=[503])
    assert schedule(ApiFaults(), always, 3) == [503, 503, 503]
    assert schedule(ApiFaults(), EmulatorConfig(), 5) == [200] * 5


def test_api_errors_only_hit_chosen_methods_and_reset_restarts_the_schedule() -> None:
    config = EmulatorConfig(api_error_rate=0.5, api_error_codes=[429], api_error_methods=["create"])
    faults = ApiFaults()
    assert schedule(faults, config, 4, method="get") == [200] * 4
    assert schedule(faults, config, 3, method="create") == [200, 429, 200]
    faults.reset()
    assert schedule(faults, config, 2, method="create") == [200, 429]
    error = ApiFaults().check("create", EmulatorConfig(api_error_rate=1.0, api_error_codes=[429]))
    assert error is not None and error.body()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_row_failures_are_a_stable_fraction() -> None:
    config = EmulatorConfig(row_failure_rate=0.2, seed=3)
    keys = [f"request-{i}" for i in range(2000)]
    failing = [k for k in keys if row_fails(k, config)]
    assert 0.17 < len(failing) / len(keys) < 0.23
    assert failing == [k for k in keys if row_fails(k, config)]
    other_seed = [k for k in keys if row_fails(k, EmulatorConfig(row_failure_rate=0.2, seed=4))]
    assert failing != other_seed
    assert not any(row_fails(k, EmulatorConfig()) for k in keys)


def test_fail_jobs_rules() -> None:
    assert job_fails("anything", EmulatorConfig(fail_jobs=True))
    assert not job_fails("anything", EmulatorConfig(fail_jobs=False))
    assert job_fails("nightly-42", EmulatorConfig(fail_jobs="nightly-*"))
    assert not job_fails("weekly-42", EmulatorConfig(fail_jobs="nightly-*"))
    assert job_fails("weekly-42", EmulatorConfig(fail_jobs=["nightly-*", "weekly-*"]))


def test_dropped_rows_are_a_stable_fraction_apart_from_failed_ones() -> None:
    config = EmulatorConfig(drop_rows_rate=0.1, row_failure_rate=0.1, seed=1)
    keys = [f"request-{i}" for i in range(2000)]
    dropped = [k for k in keys if row_dropped(k, config)]
    assert 0.08 < len(dropped) / len(keys) < 0.12
    assert dropped == [k for k in keys if row_dropped(k, config)]
    assert dropped != [k for k in keys if row_fails(k, config)]
    assert not any(row_dropped(k, EmulatorConfig()) for k in keys)
