"""The pure steps of `dbt-gemini-batch compare` (spend/compare.py): variants of a request, answers' fields, what
changed, and the summary's figures."""

from __future__ import annotations

import hashlib
import json

from gemini_batch.spend.compare import Variant, answer_fields, apply_variant, changed_fields, request_hash, summarize

REQUEST = json.dumps(
    {
        "contents": [{"role": "user", "parts": [{"text": "a review"}]}],
        "system_instruction": {"parts": [{"text": "old"}]},
        "generation_config": {"temperature": 0, "max_output_tokens": 256},
    }
)


def answer(text: str, output: int = 10, thinking: int = 0) -> dict[str, object]:
    return {
        "candidates": [{"content": {"parts": [{"text": "thinking...", "thought": True}, {"text": text}]}}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": output, "thoughtsTokenCount": thinking},
    }


def test_a_model_only_variant_keeps_the_request_text_so_its_hash_is_the_materializations() -> None:
    variant = Variant(name="v", gemini_model="gemini-2.5-pro")
    assert apply_variant(REQUEST, variant) == REQUEST
    expected = hashlib.sha256(f"gemini-2.5-pro\n{REQUEST}".encode()).hexdigest()
    assert request_hash("gemini-2.5-pro", REQUEST) == expected


def test_system_instruction_and_generation_config_replace_and_merge_in_camel_case() -> None:
    body = json.loads(
        apply_variant(REQUEST, Variant(name="v", system_instruction="new", generation_config={"temperature": 1}))
    )
    assert body["systemInstruction"] == {"parts": [{"text": "new"}]} and "system_instruction" not in body
    assert body["generationConfig"] == {"temperature": 1, "maxOutputTokens": 256}
    assert "generation_config" not in body


def test_answer_fields_skip_thoughts_and_read_json_or_text() -> None:
    assert answer_fields(answer('{"sentiment": "positive", "score": 0.91}')) == {"sentiment": "positive", "score": 0.91}
    assert answer_fields(json.dumps(answer("plain words"))) == {"text": "plain words"}
    assert answer_fields({"candidates": []}) is None


def test_changed_fields_normalise_case_spacing_rounding_and_order() -> None:
    current = {"sentiment": "Positive ", "topics": ["price", "quality"], "score": 0.914, "ok": True}
    same = {"sentiment": "positive", "topics": ["quality", "price"], "score": 0.911, "ok": True}
    assert changed_fields(current, same) == []
    assert changed_fields(current, {**same, "ok": False, "extra": 1}) == ["ok", "extra"]


def test_summary_shares_per_field_and_the_cost_of_switching() -> None:
    def row(changed: str, cost: float) -> dict[str, object]:
        return {
            "variant_answered": True,
            "agrees": not changed,
            "changed_fields": changed,
            "current_cost_usd": 0.002,
            "variant_cost_usd": cost,
            "_current_tokens": (100, 10, 0, 0),
            "_variant_tokens": (100, 20, 0, 0),
            "_fields": ["sentiment", "summary"],
        }

    rows = [row("", 0.001), row("summary", 0.001), row("sentiment,summary", 0.001), row("", 0.001)]
    summary = summarize(rows, distinct_requests=1000, cached_for_variant=4)
    assert summary["agreement_by_field"] == {"sentiment": 0.75, "summary": 0.5}
    assert summary["changed_share"] == 0.5
    assert summary["per_1000_rows"]["variant"] == {"input_tokens": 100000, "output_tokens": 20000, "cost_usd": 1.0}
    assert summary["switch"] == {
        "distinct_requests": 1000,
        "already_answered_under_variant": 4,
        "to_send": 996,
        "projected_cost_usd": 0.996,
    }
