"""The spend guards' decisions (spend/guards.py) on a plan's numbers: which trip, which only warn, what they say."""

from __future__ import annotations

import pytest

from gemini_batch.progress import Progress
from gemini_batch.settings import BatchSettings
from gemini_batch.spend import guards
from gemini_batch.spend.estimate import ModelPlan


def plan(**numbers: object) -> ModelPlan:
    base: dict[str, object] = {"model": "m", "gemini_model": "gemini-2.5-flash", "new": 100, "retries_due": 20}
    return ModelPlan(**{**base, **numbers})  # type: ignore[arg-type]


def test_no_limit_set_nothing_trips() -> None:
    assert guards.problems(plan(estimated_cost_usd=1e6), BatchSettings()) == ([], [])


def test_max_requests_per_run_counts_new_and_retries() -> None:
    stops, _ = guards.problems(plan(), BatchSettings(max_requests_per_run=120))
    assert stops == []  # 100 new + 20 retries = 120: at the limit, not over it
    stops, _ = guards.problems(plan(), BatchSettings(max_requests_per_run=119))
    assert len(stops) == 1
    assert "120 requests would be sent (100 new, 20 retries)" in stops[0]
    assert "max_requests_per_run=119" in stops[0]


def test_max_estimated_cost_gives_the_numbers_and_their_sources() -> None:
    over = plan(
        estimated_cost_usd=2.5,
        input_tokens=1000,
        input_tokens_source="countTokens on all 120 requests",
        output_tokens=300,
        thinking_tokens=200,
        output_tokens_source="the model's 40 answered requests",
        estimated_cost_low_usd=1.0,
        estimated_cost_ceiling_usd=90.0,
    )
    stops, _ = guards.problems(over, BatchSettings(max_estimated_cost_usd=2.0))
    assert len(stops) == 1
    assert "$2.5000" in stops[0] and "1000 input tokens: countTokens on all 120 requests" in stops[0]
    assert "500 output tokens, 200 of them thinking: the model's 40 answered requests" in stops[0]
    assert "likely cost $2.5000" in stops[0] and "low $1.0000" in stops[0] and "ceiling $90.0000" in stops[0]
    # the ceiling (every answer at maxOutputTokens) is shown, never what the guard trips on
    assert guards.problems(over, BatchSettings(max_estimated_cost_usd=3.0)) == ([], [])


def test_unknown_cost_with_a_cost_limit_stops_rather_than_counting_zero() -> None:
    stops, _ = guards.problems(plan(estimated_cost_usd=None), BatchSettings(max_estimated_cost_usd=100.0))
    assert len(stops) == 1 and "unknown" in stops[0] and "gemini_batch_prices" in stops[0]


@pytest.mark.parametrize(("on_resend", "stopped"), [("warn", False), ("error", True)])
def test_resend_share_warns_or_stops(on_resend: str, stopped: bool) -> None:
    resent = plan(resent_changed=60, answered_before=100)
    stops, warnings = guards.problems(resent, BatchSettings(max_resend_share=0.5, on_resend=on_resend))
    assert bool(stops) is stopped and bool(warnings) is not stopped
    message = (stops or warnings)[0]
    assert "60 of 100 answered keys (60%)" in message and "max_resend_share=0.5" in message
    # at the share exactly: neither
    assert guards.problems(plan(resent_changed=50, answered_before=100), BatchSettings(on_resend=on_resend)) == (
        [],
        [],
    )


def test_resend_share_without_history_never_trips() -> None:
    assert guards.problems(plan(resent_changed=0, answered_before=0), BatchSettings(max_resend_share=0.0)) == ([], [])


def test_check_before_submit_raises_unless_allowed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[str] = []
    settings = BatchSettings(max_requests_per_run=10)
    monkeypatch.delenv(guards.ALLOW_ENV, raising=False)
    with pytest.raises(guards.GuardError, match=r"nothing was submitted.*--allow-over-budget"):
        guards.check_before_submit(plan(), settings, Progress(lines.append))
    monkeypatch.setenv(guards.ALLOW_ENV, "1")
    guards.check_before_submit(plan(), settings, Progress(lines.append))
    assert any("allowed once" in line and "max_requests_per_run=10" in line for line in lines)


@pytest.mark.parametrize(
    ("ratio", "failed", "processed", "fails"),
    [
        (None, 0, 0, False),  # nothing processed: nothing to judge
        (None, 9, 10, False),  # no ratio set: only a run where every row failed fails
        (None, 10, 10, True),
        (0.2, 3, 10, True),
        (0.5, 3, 10, False),
        (0.3, 3, 10, False),  # at the ratio: passes, as "above max_error_ratio" fails
        (1.0, 5, 5, True),  # every row failed is never a success, whatever the ratio
    ],
)
def test_error_ratio_problem(ratio: float | None, failed: int, processed: int, fails: bool) -> None:
    problem = guards.error_ratio_problem("m", BatchSettings(max_error_ratio=ratio), failed, processed)
    assert (problem is not None) is fails
    if problem:
        assert problem.startswith("m: ") and "status --failed" in problem
