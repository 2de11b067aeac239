"""Offline answers that look like answers: typed fields drawn from what the prompt states (emulator/prompt_facts.py,
schema_values.py), always valid for the schema and reproducible."""

from __future__ import annotations

import random
from typing import Any

import jsonschema
import pytest

from gemini_batch.emulator import prompt_facts
from gemini_batch.emulator.schema_values import make_value
from tests.openapi_schema import openapi_to_jsonschema

POSTING = {
    "type": "OBJECT",
    "properties": {
        "job_title": {"type": "STRING"},
        "seniority": {"type": "STRING", "enum": ["junior", "mid", "senior"]},
        "salary_min": {"type": "INTEGER", "minimum": 0},
        "salary_max": {"type": "INTEGER", "minimum": 0},
        "currency": {"type": "STRING", "enum": ["USD", "EUR", "GBP", "CHF"]},
        "location": {"type": "STRING", "maxLength": 40},
        "skills": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 1, "maxItems": 5},
        "years_experience": {"type": "INTEGER", "minimum": 0, "maximum": 40},
        "fit_score": {"type": "NUMBER", "description": "How well it fits a data team, from 1 to 5."},
        "language": {"type": "STRING"},
    },
    "required": ["job_title", "salary_min", "salary_max", "currency"],
}
BERLIN = (
    "Senior data engineer in Berlin. Salary 70,000 - 90,000 EUR a year. Skills: Python, SQL and dbt. "
    "At least 5 years of experience."
)
MUNICH = "Wir suchen einen Junior Entwickler in München. Gehalt 45.000 - 55.000 € im Jahr, die Arbeit ist remote."
MESSY = [
    BERLIN,
    MUNICH,
    "Barista wanted in Lyon; 12 EUR per hour",
    "Remote analyst, pay $70k-$90k, 2-4 yrs",
    "Nothing about money here.",
    "",
    "salary 90000 to 70000",  # written backwards
    "Großartige Stelle! 🚀 " * 3000,  # a long text, not English, no numbers
    "Lead engineer. " + "Budget 1,200,000 USD. " * 4000,  # 60k+ characters
]


def valid(value: Any, schema: dict[str, Any]) -> None:
    jsonschema.validate(value, openapi_to_jsonschema(schema))


def test_a_posting_is_answered_from_what_it_says() -> None:
    answer = make_value(POSTING, BERLIN, random.Random(0))
    valid(answer, POSTING)
    assert answer["job_title"] == "Senior data engineer"
    assert answer["seniority"] == "senior"
    assert (answer["salary_min"], answer["salary_max"], answer["currency"]) == (70000, 90000, "EUR")
    assert answer["location"] == "Berlin"
    assert answer["skills"] == ["Python", "SQL", "dbt"]
    assert answer["years_experience"] == 5
    assert 1 <= answer["fit_score"] <= 5, "the description's range bounds the number"
    assert answer["language"] == "en"

    german = make_value(POSTING, MUNICH, random.Random(0))
    assert (german["salary_min"], german["salary_max"], german["currency"]) == (45000, 55000, "EUR")
    assert (german["seniority"], german["location"], german["language"]) == ("junior", "München", "de")


@pytest.mark.parametrize("prompt", MESSY)
def test_every_answer_is_valid_ordered_and_reproducible(prompt: str) -> None:
    for seed in range(8):
        answer = make_value(POSTING, prompt, random.Random(seed))
        valid(answer, POSTING)
        assert answer["salary_min"] <= answer["salary_max"]
        assert answer == make_value(POSTING, prompt, random.Random(seed)), "same request, same answer"


def test_a_stated_number_outside_the_schema_is_not_used() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "salary_min": {"type": "INTEGER", "minimum": 0, "maximum": 1000},
            "salary_max": {"type": "INTEGER", "minimum": 0, "maximum": 1000},
            "hours": {"type": "INTEGER", "minimum": 1, "maximum": 60},
            "rating": {"type": "NUMBER", "minimum": 1, "maximum": 5},
        },
    }
    for seed in range(10):
        answer = make_value(schema, "Salary 70,000 - 90,000 EUR, 38.5 hours a week, rating 4.5", random.Random(seed))
        valid(answer, schema)
        assert answer["salary_min"] <= answer["salary_max"] <= 1000
        assert answer["hours"] != 38, "38.5 is not an integer: not taken, not rounded"
        assert answer["rating"] == 4.5


def test_pairs_out_of_order_are_swapped_or_closed_within_each_schema() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "min_price": {"type": "INTEGER", "minimum": 50, "maximum": 100},
            "max_price": {"type": "INTEGER", "minimum": 1, "maximum": 60},
            "start_date": {"type": "STRING", "format": "date"},
            "end_date": {"type": "STRING", "format": "date"},
        },
    }
    for seed in range(30):
        answer = make_value(schema, "", random.Random(seed))
        valid(answer, schema)
        assert answer["min_price"] <= answer["max_price"] and answer["start_date"] <= answer["end_date"]


def test_bounds_come_from_the_schema_the_description_or_the_instruction() -> None:
    score = {"type": "OBJECT", "properties": {"quality_score": {"type": "NUMBER"}, "stars": {"type": "INTEGER"}}}
    instruction = "Rate the quality score from 1 to 5 and give 1-3 stars."
    seen = [make_value(score, "It is a kettle.", random.Random(s), instruction) for s in range(20)]
    assert all(1 <= a["quality_score"] <= 5 and 1 <= a["stars"] <= 3 for a in seen)
    assert len({a["quality_score"] for a in seen}) > 3, "spread over the range, not pinned to an end"
    bounded = {"type": "NUMBER", "minimum": 1, "maximum": 5}
    assert all(1 <= make_value(bounded, "", random.Random(s)) <= 5 for s in range(20))
    # proto JSON writes int64 fields as strings: "minItems": "2"
    listed = {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": "2", "maxItems": "3"}
    assert 2 <= len(make_value(listed, "one", random.Random(0))) <= 3


def test_an_enum_option_the_text_names_is_chosen() -> None:
    currency = {"type": "STRING", "enum": ["USD", "EUR", "GBP"]}
    contract = {"type": "STRING", "enum": ["full_time", "part_time", "contract"]}
    assert (
        make_value({"type": "OBJECT", "properties": {"currency": currency}}, "Paid in £ monthly", random.Random(0))[
            "currency"
        ]
        == "GBP"
    )
    assert make_value(contract, "A six-month contract role, remote.", random.Random(0)) == "contract"
    triage = {"type": "STRING", "enum": ["bug", "praise", "question"]}
    tickets = [
        "The app crashes when I upload a photo.",
        "Love the new dashboard, thanks!",
        "How do I change my address?",
    ]
    assert [make_value(triage, t, random.Random(0)) for t in tickets] == ["bug", "praise", "question"]


def test_listed_items_keep_min_and_max_items() -> None:
    prompt = "Skills: Python, SQL, dbt, Airflow, Spark, Kafka"
    three = {"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": 3}
    many = {"type": "ARRAY", "items": {"type": "STRING", "maxLength": 4}, "minItems": 7, "maxItems": 9}
    assert make_value({"type": "OBJECT", "properties": {"skills": three}}, prompt, random.Random(0))["skills"] == [
        "Python", "SQL", "dbt",
    ]  # fmt: skip
    padded = make_value({"type": "OBJECT", "properties": {"skills": many}}, prompt, random.Random(0))["skills"]
    assert 7 <= len(padded) <= 9 and all(len(s) <= 4 for s in padded)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70,000 - 90,000 EUR", [(70000, 90000)]),
        ("$70k-$90k", [(70000, 90000)]),
        ("70-90k", [(70000, 90000)]),
        ("40000-50000", [(40000, 50000)]),
        ("between 3 and 5 years", [(3, 5)]),
        ("it was -3 degrees, then 4.5", [(-3, -3), (4.5, 4.5)]),
        ("Gehalt 45.000 bis 55.000 € und nicht mehr", [(45000, 55000)]),
        ("the 4.500 mm part of the order", [(4.5, 4.5)]),  # English: a dot is a decimal point
        ("from 9 to 5", [(9, 9), (5, 5)]),  # not a range: 9 > 5
    ],
)
def test_numbers_and_ranges_as_people_write_them(text: str, expected: list[tuple[float, float]]) -> None:
    assert [(m.low, m.high) for m in prompt_facts.mentions(text)] == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The kettle is great and the delivery was fast.", "en"),
        ("Der Wasserkocher ist nicht gut und die Lieferung war spät.", "de"),
        ("Le produit est arrivé cassé et je ne suis pas content.", "fr"),
        ("El producto es muy bueno y llegó a tiempo para la fiesta.", "es"),
        ("12345", None),
    ],
)
def test_language_of_a_text(text: str, code: str | None) -> None:
    assert prompt_facts.language(text) == code


def test_names_sides_and_places() -> None:
    assert prompt_facts.side("salary_min") == "low" and prompt_facts.side("maxSalary") == "high"
    assert prompt_facts.side("salary") is None
    assert prompt_facts.topic_words("salaryMax")[0] == "salary"
    assert prompt_facts.place("Barista wanted in Lyon; 12 EUR per hour") == "Lyon"
    assert prompt_facts.place("Fully remote role") == "Remote"
    assert prompt_facts.labelled("Role: Data engineer.\nLocation: New York, NY", "location") == "New York, NY"
    assert prompt_facts.currency("costs 5 dollars, not 5 €") == "USD"
