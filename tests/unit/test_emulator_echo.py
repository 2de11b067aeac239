"""The emulator's echo of a job's input in Vertex's form (emulator/echo.py), checked against Google's own example:
the batch notebook's input line and the output line it printed (GoogleCloudPlatform/generative-ai,
gemini/batch-prediction/intro_batch_prediction.ipynb at 837b06614 and 4a03ad5cb)."""

from __future__ import annotations

import json

from gemini_batch.emulator.echo import Echo

# The notebook's input (4a03ad5cb line 307) and the `request` of its output line (837b06614 line 505).
NOTEBOOK_INPUT = (
    '{"contents": [{"role": "user", "parts": [{"text": "List objects in this image."}, {"file_data": {"file_uri": '
    '"gs://cloud-samples-data/generative-ai/image/office-desk.jpeg", "mime_type": "image/jpeg"}}]}],'
    '"generationConfig":{"temperature": 0.4}}'
)
NOTEBOOK_ECHO = (
    '{"contents": [{"parts": [{"file_data": null, "text": "List objects in this image."}, {"file_data": {"file_uri": '
    '"gs://cloud-samples-data/generative-ai/image/office-desk.jpeg", "mime_type": "image/jpeg"}, "text": null}], '
    '"role": "user"}], "generationConfig": {"temperature": 0.4}}'
)


def test_the_notebooks_request_is_echoed_byte_for_byte_as_vertex_printed_it() -> None:
    echo = Echo("vertex")
    echo.add(NOTEBOOK_INPUT)
    assert echo.request(NOTEBOOK_INPUT, as_text=True) == NOTEBOOK_ECHO
    assert echo.request(json.loads(NOTEBOOK_INPUT), as_text=False) == json.loads(NOTEBOOK_ECHO)


def test_fields_of_other_requests_in_the_file_are_padded_with_null() -> None:
    echo = Echo("vertex")
    plain = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    echo.add(plain)
    echo.add(NOTEBOOK_INPUT)
    assert echo.request(plain, as_text=False) == {
        "contents": [{"parts": [{"file_data": None, "text": "hi"}], "role": "user"}],
        "generationConfig": None,
    }
    # text that is not JSON is echoed as it is
    assert echo.request("{not json", as_text=True) == "{not json"


def test_numeric_looking_keys_become_numbers_and_missing_keys_null_but_prefixed_keys_stay_text() -> None:
    echo = Echo("vertex")
    lines = [{"id": "000000", "key": "gb-0123"}, {"id": "7"}]
    for line in lines:
        echo.add({"contents": []}, line)
    assert [echo.siblings(line) for line in lines] == [{"id": 0, "key": "gb-0123"}, {"id": 7, "key": None}]


def test_response_keys_are_sorted_and_rows_come_out_of_input_order() -> None:
    echo = Echo("vertex")
    assert list(echo.response({"usageMetadata": {}, "candidates": [{"finishReason": "STOP", "content": {}}]})) == [
        "candidates",
        "usageMetadata",
    ]
    rows = list(range(10))
    shuffled = echo.order(rows, "seed")
    assert shuffled != rows and sorted(shuffled) == rows
    assert echo.order(rows, "seed") == shuffled  # reproducible


def test_verbatim_keeps_everything_as_given() -> None:
    echo = Echo("verbatim")
    echo.add(NOTEBOOK_INPUT, {"id": "000000"})
    assert echo.request(NOTEBOOK_INPUT, as_text=True) == NOTEBOOK_INPUT
    assert echo.siblings({"id": "000000"}) == {"id": "000000"}
    assert echo.order([3, 1, 2], "seed") == [3, 1, 2]
