"""The price registry: date ranges, unknown models, overrides, cost arithmetic, and the dbt macro kept in step."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from gemini_batch import prices
from gemini_batch.prices import Price, PriceError, PriceRegistry, estimate_cost, load_registry, price_for

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 30)


def test_the_dbt_macro_is_generated_from_the_csv() -> None:
    # SQL and Python must price alike: regenerate with `python -m gemini_batch.prices --write-macro` after a CSV edit.
    assert (REPO / prices.MACRO_PATH).read_text() == prices.render_macro(prices.default_prices())


def test_shipped_registry_prices_the_default_model_and_its_batch_rate() -> None:
    price = price_for("gemini-2.5-flash", DAY)
    assert price is not None and price.batch_discount == 0.5
    # 1M fresh input + 1M output at half the standard rate
    assert price.cost(prompt_tokens=1_000_000, output_tokens=1_000_000) == pytest.approx(
        (price.input + price.output) / 2
    )
    assert price.cost(prompt_tokens=1_000_000, output_tokens=0, batch=False) == pytest.approx(price.input)


def test_shipped_registry_has_no_overlapping_ranges_and_every_row_names_its_source() -> None:
    registry = load_registry()  # PriceRegistry raises on overlaps
    assert all(p.source for p in registry.rows())
    assert {"gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"} <= set(registry.prices)


def test_a_price_change_on_an_announced_date_picks_the_row_of_the_day() -> None:
    registry = PriceRegistry(
        [
            Price("m", input=1.0, output=2.0, effective_to=dt.date(2026, 12, 31)),
            Price("m", input=3.0, output=4.0, effective_from=dt.date(2027, 1, 1)),
        ]
    )
    assert registry.price_for("m", dt.date(2026, 12, 31)).input == 1.0  # type: ignore[union-attr]
    assert registry.price_for("m", dt.date(2027, 1, 1)).input == 3.0  # type: ignore[union-attr]


def test_a_model_priced_only_from_a_later_date_has_no_price_before_it() -> None:
    registry = PriceRegistry([Price("m", input=1.0, output=2.0, effective_from=dt.date(2027, 1, 1))])
    assert registry.price_for("m", dt.date(2026, 12, 31)) is None


def test_overlapping_ranges_are_refused() -> None:
    with pytest.raises(PriceError, match="prices of 'm' overlap"):
        PriceRegistry(
            [
                Price("m", input=1.0, output=2.0, effective_to=dt.date(2027, 1, 1)),
                Price("m", input=3.0, output=4.0, effective_from=dt.date(2027, 1, 1)),
            ]
        )


def test_unknown_model_has_no_price_and_its_cost_is_none_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert price_for("gemini-9-ultra", DAY) is None
    with caplog.at_level(logging.WARNING, logger="gemini_batch.prices"):
        cost = estimate_cost("gemini-9-ultra", DAY, prompt_tokens=1000, output_tokens=10)
    assert cost is None
    assert "no price for Gemini model 'gemini-9-ultra'" in caplog.text


def test_publisher_resource_names_are_the_same_model() -> None:
    assert price_for("publishers/google/models/gemini-2.5-flash", DAY) == price_for("gemini-2.5-flash", DAY)
    assert price_for("projects/p/locations/l/models/123", DAY) is None  # a tuned model is unknown


def test_override_replaces_every_row_of_a_model_and_extends_with_new_ones() -> None:
    overrides = {
        "gemini-2.5-flash": {"input": 0.2, "output": 1.0},
        "my-tuned-model": [
            {"effective_to": "2026-12-31", "input": 1, "output": 2},
            {"effective_from": "2027-01-01", "input": 5, "output": 6, "batch_discount": 0},
        ],
    }
    flash = price_for("gemini-2.5-flash", DAY, overrides)
    assert flash is not None and (flash.input, flash.output, flash.cached_input) == (0.2, 1.0, None)
    assert price_for("my-tuned-model", DAY, overrides).input == 1  # type: ignore[union-attr]
    later = price_for("my-tuned-model", dt.date(2027, 6, 1), overrides)
    assert later is not None and later.batch_discount == 0
    assert later.cost(prompt_tokens=1_000_000, output_tokens=0) == pytest.approx(5.0)
    # models the var does not name keep the shipped prices
    assert price_for("gemini-2.5-pro", DAY, overrides) == price_for("gemini-2.5-pro", DAY)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"m": {"input": 1}}, "price of 'm': output .* is required"),
        ({"m": {"input": 1, "output": 2, "ouput_long": 3}}, "unknown field\\(s\\) ouput_long"),
        ({"m": {"input": "cheap", "output": 2}}, "input must be a number"),
        ({"m": {"input": -1, "output": 2}}, "input must not be negative"),
        ({"m": {"input": 1, "output": 2, "effective_from": "next year"}}, "effective_from must be a date"),
        ({"m": {"input": 1, "output": 2, "batch_discount": 50}}, "batch_discount is a share"),
        ({"m": "1.25"}, "must map to"),
    ],
)
def test_bad_overrides_are_refused_naming_model_and_field(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(PriceError, match=message):
        load_registry(overrides)


def test_cached_tokens_pay_the_cache_rate_without_batch_discount_and_thinking_pays_output() -> None:
    price = Price("m", input=1.0, output=10.0, cached_input=0.1)
    usd = price.cost(prompt_tokens=3_000_000, cached_tokens=1_000_000, output_tokens=0, thoughts_tokens=1_000_000)
    # 2M fresh input at half of 1.0, 1M cached at 0.1 (no stacking), 1M thinking at half of the output rate
    assert usd == pytest.approx(2 * 0.5 + 0.1 + 5.0)


def test_a_model_without_a_cache_rate_prices_cached_tokens_as_input() -> None:
    price = Price("m", input=1.0, output=10.0)
    assert price.cost(prompt_tokens=2_000_000, cached_tokens=1_000_000, output_tokens=0) == pytest.approx(1.0)


def test_long_context_rates_apply_only_when_asked_and_defined() -> None:
    pro = price_for("gemini-2.5-pro", DAY)
    assert pro is not None and pro.long_context_threshold == 200_000
    short = pro.cost(prompt_tokens=1_000_000, output_tokens=1_000_000)
    long = pro.cost(prompt_tokens=1_000_000, output_tokens=1_000_000, long_context=True)
    assert short == pytest.approx((pro.input + pro.output) / 2)
    assert long == pytest.approx((pro.input_long + pro.output_long) / 2)  # type: ignore[operator]
    flash = price_for("gemini-2.5-flash", DAY)
    assert flash is not None
    assert flash.cost(prompt_tokens=10, output_tokens=10, long_context=True) == flash.cost(
        prompt_tokens=10, output_tokens=10
    )


def test_the_two_price_lists_are_kept_apart_and_vertex_prices_first() -> None:
    registry = load_registry()
    lists = {(p.model, p.price_list): p for p in registry.rows()}
    vertex, developer = lists[("gemini-2.0-flash", "vertex")], lists[("gemini-2.0-flash", "gemini_api")]
    assert (vertex.input, vertex.output) == (0.15, 0.60) and (developer.input, developer.output) == (0.10, 0.40)
    assert registry.price_for("gemini-2.0-flash", DAY) == vertex
    # a model with only the Developer API's row is priced from it, and the price says so
    flash = registry.price_for("gemini-2.5-flash", DAY)
    assert flash is not None and flash.price_list == "gemini_api"
    # every row names its source and when it was read
    assert all(p.source.startswith("https://") and p.read_on for p in registry.rows())


def test_a_row_of_one_list_may_cover_the_days_of_the_other_but_not_of_its_own() -> None:
    PriceRegistry([Price("m", 1.0, 2.0, price_list="vertex"), Price("m", 3.0, 4.0, price_list="gemini_api")])
    with pytest.raises(PriceError, match="prices of 'm' overlap in the gemini_api list"):
        PriceRegistry([Price("m", 1.0, 2.0, price_list="gemini_api"), Price("m", 3.0, 4.0, price_list="gemini_api")])
    with pytest.raises(PriceError, match="price_list must be one of vertex, gemini_api"):
        load_registry({"m": {"input": 1, "output": 2, "price_list": "retail"}})


def test_tokens_of_long_requests_pay_the_long_context_rates() -> None:
    price = Price("m", input=1.0, output=10.0, long_context_threshold=200_000, input_long=2.0, output_long=15.0)
    totals = {"prompt_tokens": 1_000_000, "output_tokens": 100_000}
    long = {"prompt_tokens": 400_000, "output_tokens": 20_000}
    # batch: half of 600k x $1 + 80k x $10, and of 400k x $2 + 20k x $15
    assert price.cost_with_long_context(totals, long) == pytest.approx((0.6 + 0.8) / 2 + (0.8 + 0.3) / 2)
    assert price.cost_with_long_context(totals, {}) == pytest.approx(
        price.cost(prompt_tokens=1_000_000, output_tokens=100_000)
    )
