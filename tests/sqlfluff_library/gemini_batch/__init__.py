"""Stand-ins for the package's macros when sqlfluff's jinja templater renders models without dbt.

Every `gemini_batch.<macro>(...)` call renders as a SQL `null`, which parses anywhere an expression can stand, so the
linter checks the model's own SQL. (The dbt templater would render the real macros but needs a warehouse connection.)
"""

from collections.abc import Callable
from typing import Any


def __getattr__(name: str) -> Callable[..., str]:
    def placeholder(*args: Any, **kwargs: Any) -> str:
        return "null"

    return placeholder


def parsed_response(relation: str, response: str = "response") -> str:
    """parsed_response() renders a whole SELECT (the body of a CTE), not an expression: one over the relation."""
    return f"select * from {relation}"
