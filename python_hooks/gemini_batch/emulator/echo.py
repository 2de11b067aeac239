"""The form Vertex writes a job's output in (config `echo: vertex`, the default), or the input as given (`verbatim`).

What Google's own material shows (collected in ../shared/reference/vertex-output-shapes.md):
- Google's batch notebook (GoogleCloudPlatform/generative-ai, gemini/batch-prediction/intro_batch_prediction.ipynb at
  837b06614, "Retrieve batch prediction results") and the Cloud Storage page's example
  (cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-from-cloud-storage): the echoed `request`
  is re-serialised, not proto-normalised: keys in alphabetical order, names as the user spelt them, numbers unchanged,
  and every object padded with `null` for the fields other objects at the same place in the file have
  (`"file_data": null` on a text part, `"text": null` on a file part): the union schema a BigQuery-style import
  infers for the whole input. `response` also comes back with its keys in alphabetical order.
- A failed line has `status` ("Bad Request: {...}") and no `response` key at all (the Cloud Storage page's failed
  example); for a BigQuery output Google shows no failed row, so the emulator writes NULL (the reference's reading).
- Lines are not in input order (the notebook's 2024-09-19 output lists its two requests the other way round; a
  third-party capture saw 5 lines come back as 3, 2, 1, 5, 4).
- Other top-level keys of a JSONL line are echoed, and a key whose values all look like numbers comes back as a number
  (third-party report: "000000" -> 0), as a schema-inferring import reads it; a key other lines have comes back as
  null on a line without it (the same union schema).
How Vertex re-serialises a BigQuery output's `request` column is not documented; the emulator takes the same form
(the more adverse reading for a client that compares it with what it sent).
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

_NUMBER = re.compile(r"-?(0|[1-9]\d*|\d+)(\.\d+)?([eE][+-]?\d+)?")
_ITEMS = "[]"  # the shape of a list's items


class Shape:
    """The union of the fields of every object seen at each place of a JSON document (a list's items merged)."""

    def __init__(self) -> None:
        self.fields: dict[str, Shape] = {}
        self.is_object = False

    def add(self, value: Any) -> None:
        if isinstance(value, dict):
            self.is_object = True
            for key, item in value.items():
                self.fields.setdefault(key, Shape()).add(item)
        elif isinstance(value, list):
            items = self.fields.setdefault(_ITEMS, Shape())
            for item in value:
                items.add(item)

    def pad(self, value: Any) -> Any:
        """`value` with keys sorted and each object holding every field of its place (absent ones as null)."""
        if isinstance(value, dict):
            names = sorted(set(value) | ({k for k in self.fields if k != _ITEMS} if self.is_object else set()))
            return {k: self.fields[k].pad(value.get(k)) if k in self.fields else value.get(k) for k in names}
        if isinstance(value, list):
            items = self.fields.get(_ITEMS, Shape())
            return [items.pad(v) for v in value]
        return value


def parsed(request: Any) -> Any:
    """A STRING column's request as JSON when it parses (else the text as it is)."""
    if isinstance(request, str):
        try:
            return json.loads(request)
        except ValueError:
            return request
    return request


def sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


class Echo:
    """How one job echoes its input: built from every request (and JSONL line) before the first row is written."""

    def __init__(self, mode: str) -> None:
        self.vertex = mode == "vertex"
        self.requests = Shape()
        self._numeric: dict[str, bool] = {}  # JSONL sibling key -> every value so far looks like a number
        self._siblings: set[str] = set()

    def add(self, request: Any, siblings: dict[str, Any] | None = None) -> None:
        self.requests.add(parsed(request))
        for key, value in (siblings or {}).items():
            self._siblings.add(key)
            if value is not None:
                looks = isinstance(value, int | float) or (isinstance(value, str) and bool(_NUMBER.fullmatch(value)))
                self._numeric[key] = self._numeric.get(key, True) and looks

    def request(self, request: Any, as_text: bool) -> Any:
        """The request as the output shows it; as_text for a STRING column (json.dumps' separators, as the notebook
        prints it), else the object."""
        if not self.vertex:
            return request if as_text else parsed(request)
        value = parsed(request)
        if isinstance(value, str):  # not JSON: nothing to re-serialise
            return value
        padded = self.requests.pad(value)
        return json.dumps(padded, ensure_ascii=False) if as_text else padded

    def response(self, response: Any) -> Any:
        return sorted_keys(response) if self.vertex else response

    def siblings(self, values: dict[str, Any]) -> dict[str, Any]:
        """A JSONL line's other keys, sorted: a key whose every value looks like a number comes back as a number, a
        key of other lines that this one lacks as null."""
        if not self.vertex:
            return values
        out = {}
        for key in sorted(set(values) | self._siblings):
            value = values.get(key)
            out[key] = _number(value) if self._numeric.get(key) and isinstance(value, str) else value
        return out

    def order(self, rows: list[Any], seed: str) -> list[Any]:
        """The rows of one write in another order than the input's (reproducible from `seed`)."""
        if not self.vertex or len(rows) < 2:
            return rows
        shuffled = list(rows)
        random.Random(seed).shuffle(shuffled)
        if shuffled == rows:
            shuffled.reverse()
        return shuffled


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)
