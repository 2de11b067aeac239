"""Gemini prices as data, and cost estimates from token counts.

The registry is `data/gemini_prices.csv` (its header cites the sources and the date they were read). dbt reads the same
rows through the generated macro `macros/ledger/default_price_rows.sql`; `python -m gemini_batch.prices --write-macro`
regenerates it and tests/unit/test_prices.py fails when the two differ, so SQL and Python never price differently.
Users override or extend the registry with the dbt var `gemini_batch_prices`, whose value this module accepts as
`overrides` (same shape, same checks as the macro `price_list`).

Two price lists are kept apart (`price_list`): Vertex AI's (`vertex`), what batch jobs are billed at, and the Gemini
Developer API's (`gemini_api`). A model is priced from its `vertex` row, else from its `gemini_api` row (the Price
says which), never from a list the user cannot see.

A model the registry does not know has no price: `price_for` returns None and `estimate_cost` returns None with a
warning. An unknown cost is never reported as 0.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MACRO_PATH = Path("macros") / "ledger" / "default_price_rows.sql"
# Rates in USD per 1M tokens at the standard (online) rate.
RATE_FIELDS = ("input", "output", "thinking", "cached_input", "input_long", "output_long", "cached_input_long")
# Every field a row (CSV line or var entry) may carry, in the CSV's column order after `model`.
FIELDS = (
    "price_list",
    "effective_from",
    "effective_to",
    "input",
    "output",
    "thinking",
    "cached_input",
    "long_context_threshold",
    "input_long",
    "output_long",
    "cached_input_long",
    "batch_discount",
    "source",
    "read_on",
    "typical_output_tokens",
    "typical_thinking_tokens",
)
DEFAULT_BATCH_DISCOUNT = 0.5
VERTEX = "vertex"
GEMINI_API = "gemini_api"
PRICE_LISTS = (VERTEX, GEMINI_API)  # in the order a model's price is looked up
# Vertex publisher model resource names and the Gemini API's `models/` prefix name the same model as the bare id.
_MODEL_PREFIX = re.compile(r"^(publishers/google/models/|models/)")


class PriceError(ValueError):
    """A price row or a `gemini_batch_prices` entry that cannot be used; the message names the model and field."""


@dataclass(frozen=True)
class Price:
    """One model's rates over one date range (inclusive; None = open)."""

    model: str
    input: float
    output: float
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    thinking: float | None = None  # None: thinking tokens are billed as output (Gemini 2.5 and 3.x)
    cached_input: float | None = None  # None: no implicit-cache discount, cached tokens are priced as input
    long_context_threshold: int | None = None  # prompts above this many tokens pay the *_long rates
    input_long: float | None = None
    output_long: float | None = None
    cached_input_long: float | None = None
    batch_discount: float = DEFAULT_BATCH_DISCOUNT
    source: str = ""  # where the rates were read (URL)
    price_list: str = VERTEX  # whose list: vertex (what Vertex bills) or gemini_api (the Developer API's)
    read_on: dt.date | None = None  # when the source was read
    # Not prices: the plan's assumed length of a text answer and of default thinking before the model has answered
    # anything (spend/output_bound.py); None thinking = the model does not think unless a budget asks it to.
    typical_output_tokens: int | None = None
    typical_thinking_tokens: int | None = None

    def covers(self, day: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= day) and (
            self.effective_to is None or day <= self.effective_to
        )

    def cost(
        self,
        *,
        prompt_tokens: int,
        output_tokens: int,
        thoughts_tokens: int = 0,
        cached_tokens: int = 0,
        batch: bool = True,
        long_context: bool = False,
    ) -> float:
        """USD for these token counts (Vertex usageMetadata: promptTokenCount includes cachedContentTokenCount).

        `long_context` picks the *_long rates; it is a property of each request (its prompt above
        long_context_threshold), so pass it for a single request or for a sum of long requests only.
        Cached input is billed at `cached_input` with no batch discount: Google does not stack the two.
        """
        long = long_context and self.long_context_threshold is not None

        def tier(long_rate: float | None, base: float | None) -> float | None:
            return long_rate if long and long_rate is not None else base

        input_rate = tier(self.input_long, self.input) or 0.0
        output_rate = tier(self.output_long, self.output) or 0.0
        cached_rate = tier(self.cached_input_long, self.cached_input)
        thinking_rate = output_rate if self.thinking is None else self.thinking
        share = 1 - self.batch_discount if batch else 1.0
        if cached_rate is None:  # no cache discount for this model: cached tokens are ordinary input
            cached_tokens = 0
        fresh = max(prompt_tokens - cached_tokens, 0)
        usd = (
            fresh * input_rate * share
            + cached_tokens * (cached_rate or 0.0)
            + output_tokens * output_rate * share
            + thoughts_tokens * thinking_rate * share
        )
        return usd / 1_000_000

    def cost_with_long_context(
        self, totals: Mapping[str, int], long: Mapping[str, int], *, batch: bool = True
    ) -> float:
        """USD of a job's token totals of which `long` are the tokens of its requests above long_context_threshold
        (both keyed prompt_tokens, output_tokens, thoughts_tokens, cached_tokens): the rest at the base rates,
        those at the *_long rates. The ledger records both per job (collect)."""

        def part(key: str, of_long: bool) -> int:
            above = int(long.get(key) or 0)
            return above if of_long else max(int(totals.get(key) or 0) - above, 0)

        return sum(
            self.cost(
                prompt_tokens=part("prompt_tokens", of_long),
                output_tokens=part("output_tokens", of_long),
                thoughts_tokens=part("thoughts_tokens", of_long),
                cached_tokens=part("cached_tokens", of_long),
                batch=batch,
                long_context=of_long,
            )
            for of_long in (False, True)
        )


def normalize_model(name: str) -> str:
    """The registry key of a gemini_model config value (`publishers/google/models/x` and `models/x` are `x`)."""
    return _MODEL_PREFIX.sub("", name.strip())


def _date(model: str, key: str, value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise PriceError(f"price of {model!r}: {key} must be a date YYYY-MM-DD, got {value!r}") from None


def _number(model: str, key: str, value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PriceError(f"price of {model!r}: {key} must be a number, got {value!r}") from None
    if number < 0:
        raise PriceError(f"price of {model!r}: {key} must not be negative, got {value!r}")
    return number


def make_price(model: str, entry: Mapping[str, Any]) -> Price:
    """A Price from one CSV row or one var entry; unknown fields and missing input/output rates are errors."""
    unknown = sorted(set(entry) - set(FIELDS) - {"model"})
    if unknown:
        raise PriceError(f"price of {model!r}: unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    rates = {key: _number(model, key, entry.get(key)) for key in RATE_FIELDS}
    for key in ("input", "output"):
        if rates[key] is None:
            raise PriceError(f"price of {model!r}: {key} (USD per 1M tokens, standard rate) is required")
    threshold = _number(model, "long_context_threshold", entry.get("long_context_threshold"))
    discount = _number(model, "batch_discount", entry.get("batch_discount"))
    price_list = str(entry.get("price_list") or VERTEX)
    if price_list not in PRICE_LISTS:
        raise PriceError(f"price of {model!r}: price_list must be one of {', '.join(PRICE_LISTS)}, got {price_list!r}")
    typical = {key: _number(model, key, entry.get(key)) for key in ("typical_output_tokens", "typical_thinking_tokens")}
    if discount is not None and discount > 1:
        raise PriceError(f"price of {model!r}: batch_discount is a share (0.5 = 50% off), got {discount!r}")
    price = Price(
        model=normalize_model(model),
        input=rates["input"] or 0.0,
        output=rates["output"] or 0.0,
        effective_from=_date(model, "effective_from", entry.get("effective_from")),
        effective_to=_date(model, "effective_to", entry.get("effective_to")),
        thinking=rates["thinking"],
        cached_input=rates["cached_input"],
        long_context_threshold=int(threshold) if threshold is not None else None,
        input_long=rates["input_long"],
        output_long=rates["output_long"],
        cached_input_long=rates["cached_input_long"],
        batch_discount=DEFAULT_BATCH_DISCOUNT if discount is None else discount,
        source=str(entry.get("source") or ""),
        price_list=price_list,
        read_on=_date(model, "read_on", entry.get("read_on")),
        typical_output_tokens=None
        if typical["typical_output_tokens"] is None
        else int(typical["typical_output_tokens"]),
        typical_thinking_tokens=(
            None if typical["typical_thinking_tokens"] is None else int(typical["typical_thinking_tokens"])
        ),
    )
    if price.effective_from and price.effective_to and price.effective_from > price.effective_to:
        raise PriceError(f"price of {model!r}: effective_from {price.effective_from} is after {price.effective_to}")
    return price


class PriceRegistry:
    def __init__(self, prices: Iterable[Price]) -> None:
        self.prices: dict[str, list[Price]] = {}
        for price in prices:
            self.prices.setdefault(price.model, []).append(price)
        for model, rows in self.prices.items():
            rows.sort(key=lambda p: (p.price_list, p.effective_from or dt.date.min))
            for earlier, later in itertools.pairwise(rows):
                if earlier.price_list != later.price_list:
                    continue
                if (
                    earlier.effective_to is None
                    or later.effective_from is None
                    or (later.effective_from <= earlier.effective_to)
                ):
                    raise PriceError(
                        f"prices of {model!r} overlap in the {later.price_list} list: {earlier.effective_from}.."
                        f"{earlier.effective_to} and "
                        f"{later.effective_from}..{later.effective_to} (give each range effective_from/effective_to)"
                    )

    def price_for(self, model: str, on_date: dt.date) -> Price | None:
        """The model's Vertex price on that day, else its Developer API price (Price.price_list says which)."""
        covering = [p for p in self.prices.get(normalize_model(model), []) if p.covers(on_date)]
        return min(covering, key=lambda p: PRICE_LISTS.index(p.price_list), default=None)

    def rows(self) -> list[Price]:
        return [price for rows in self.prices.values() for price in rows]


def default_prices() -> list[Price]:
    """The shipped registry, from data/gemini_prices.csv (lines starting with # are its header notes)."""
    text = resources.files("gemini_batch").joinpath("data/gemini_prices.csv").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [make_price(row["model"], row) for row in csv.DictReader(lines)]


def _override_entries(overrides: Mapping[str, Any]) -> list[Price]:
    prices = []
    for model, given in overrides.items():
        entries = given if isinstance(given, list) else [given]
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise PriceError(
                    f"var gemini_batch_prices: {model!r} must map to {{input: x, output: y, ...}} or a list of them"
                )
            prices.append(make_price(str(model), entry))
    return prices


def load_registry(overrides: Mapping[str, Any] | None = None) -> PriceRegistry:
    """Shipped prices, with `overrides` (the var gemini_batch_prices) replacing every row of the models it names."""
    extra = _override_entries(overrides or {})
    replaced = {price.model for price in extra}
    return PriceRegistry([p for p in default_prices() if p.model not in replaced] + extra)


def price_for(model: str, on_date: dt.date, overrides: Mapping[str, Any] | None = None) -> Price | None:
    return load_registry(overrides).price_for(model, on_date)


def estimate_cost(
    model: str,
    on_date: dt.date,
    *,
    prompt_tokens: int,
    output_tokens: int,
    thoughts_tokens: int = 0,
    cached_tokens: int = 0,
    batch: bool = True,
    long_context: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> float | None:
    """Estimated USD (batch rate by default); None, with a warning, when the model has no price on that date."""
    price = price_for(model, on_date, overrides)
    if price is None:
        log.warning(
            "no price for Gemini model %r on %s: its cost is unknown (add it to the dbt var gemini_batch_prices)",
            model,
            on_date,
        )
        return None
    return price.cost(
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        thoughts_tokens=thoughts_tokens,
        cached_tokens=cached_tokens,
        batch=batch,
        long_context=long_context,
    )


# -- the generated dbt macro ---------------------------------------------------------------------------------------
def _jinja_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def render_macro(prices: Iterable[Price]) -> str:
    """The text of macros/ledger/default_price_rows.sql for these prices."""
    rows = []
    for price in prices:
        # Fields left at None are omitted: price_list() reads them with .get(), so the lines stay short.
        values = {f.name: getattr(price, f.name) for f in fields(price) if getattr(price, f.name) is not None}
        items = ", ".join(f"'{key}': {_jinja_value(value)}" for key, value in values.items())
        rows.append(f"        {{{items}}},")
    body = "\n".join(rows)
    return (
        "{#- GENERATED from python_hooks/gemini_batch/data/gemini_prices.csv by `python -m gemini_batch.prices\n"
        "    --write-macro`: edit the CSV, not this file (tests/unit/test_prices.py checks they agree). The CSV's\n"
        "    header cites the sources. Rates are USD per 1M tokens at the standard (online) rate. -#}\n"
        "{% macro default_price_rows() %}\n"
        "    {{ return([\n"
        f"{body}\n"
        "    ]) }}\n"
        "{% endmacro %}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gemini_batch.prices", description=__doc__.splitlines()[0])
    parser.add_argument("--write-macro", metavar="REPO", nargs="?", const=".", help="regenerate the dbt macro")
    args = parser.parse_args(argv)
    if args.write_macro is not None:
        path = Path(args.write_macro) / MACRO_PATH
        path.write_text(render_macro(default_prices()), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    for price in default_prices():
        print(price)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
