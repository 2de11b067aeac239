"""countTokens (LlmUtilityService.CountTokens) for publisher Gemini models: deterministic, and the same count the
responder reports as usageMetadata.promptTokenCount, so a plan's token estimate can be checked against a run.

Vertex's request is CountTokensRequest (endpoint in the path; model, instances, contents, system_instruction, tools,
generation_config in the body) and the answer CountTokensResponse (total_tokens, total_billable_characters,
prompt_tokens_details): googleapis/python-aiplatform google/cloud/aiplatform_v1/types/prediction_service.py. The v1
client method is LlmUtilityServiceClient.count_tokens, REST path POST
v1/{endpoint=projects/*/locations/*/publishers/*/models/*}:countTokens
(services/llm_utility_service/transports/rest_base.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gemini_batch.emulator.errors import invalid_argument
from gemini_batch.emulator.models import resolve_model
from gemini_batch.emulator.request_check import BadRequest, check_request, prompt_text
from gemini_batch.emulator.responders import prompt_token_count

# Fields of CountTokensRequest that are not part of the GenerateContentRequest the count is made of.
_REQUEST_ONLY_FIELDS = ("endpoint", "model", "instances")


def count_tokens(
    location: str, publisher: str, model: str, body: Any, projects: set[str], extra_models: Iterable[str] = ()
) -> dict[str, Any]:
    resolve_model(f"publishers/{publisher}/models/{model}", projects, location, extra_models)
    if not isinstance(body, dict):
        raise invalid_argument("Invalid JSON payload received. The body must be a CountTokensRequest object.")
    if body.get("instances") and not body.get("contents"):
        raise invalid_argument("Gemini models count `contents`; `instances` is for other publisher models.")
    request = {k: v for k, v in body.items() if k not in _REQUEST_ONLY_FIELDS}
    try:
        checked = check_request(request)
    except BadRequest as exc:
        raise invalid_argument(str(exc)) from exc
    total = prompt_token_count(checked.body)
    return {
        "totalTokens": total,
        "totalBillableCharacters": len(prompt_text(checked.body).replace(" ", "")),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}],
    }
