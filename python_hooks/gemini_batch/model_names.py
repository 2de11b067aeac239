"""The `model` field of a Vertex batch job from the model name a project configures.

Vertex accepts a publisher model as `publishers/google/models/<id>` and a tuned model as
`projects/<p>/locations/<l>/models/<id>`. Google's SDK maps the Gemini API's `models/<id>` form to the publisher
resource (python-aiplatform vertexai/batch_prediction `_reconcile_model_name`), so `models/gemini-2.5-flash` works the
same here.
"""

from __future__ import annotations

import re

PUBLISHER_PREFIX = "publishers/google/models/"
_TUNED = re.compile(r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/(?:models|endpoints)/[^/]+")


def model_resource(name: str) -> str:
    """Full resource names unchanged; `models/<id>` and a bare `<id>` become Google's publisher model."""
    if name.startswith(("projects/", "publishers/")):
        return name
    return PUBLISHER_PREFIX + name.removeprefix("models/")


def tuned_model_location(resource: str) -> str | None:
    """The location of a tuned model (`projects/P/locations/L/models/ID`), None for a publisher model."""
    match = _TUNED.fullmatch(resource)
    return match.group("location") if match else None


def location_mismatch(resource: str, job_location: str) -> str | None:
    """Why a job in `job_location` cannot use the model, or None. A tuned model only serves its own location."""
    location = tuned_model_location(resource)
    if location is None or location.lower() == job_location.lower():
        return None
    return (
        f"the tuned model {resource} lives in {location} but the batch job would run in {job_location}; Vertex only "
        f"serves a tuned model in its own location: set vertex_location to {location} (and keep the model's dataset "
        f"in {location}), or use a model tuned in {job_location}"
    )
