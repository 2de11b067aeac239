"""Let bqemulator answer tables.list of a dataset that does not exist with 404, as BigQuery does.

BigQuery answers `GET .../datasets/{dataset}/tables` for a missing dataset with 404 "Not found: Dataset
project:dataset" (reason notFound); bqemulator answers an empty list. dbt-bigquery's `check_schema_exists` lists one
table of the dataset and reads a 404 as "no such schema" (dbt/adapters/bigquery/impl.py), so locally every missing
dataset looked present: the package's on-run-start hook then skipped creating a ledger dataset that did not exist
and failed with "Schema ... does not exist". This wrapper answers 404 before bqemulator's handler runs.
"""

from __future__ import annotations

import re
from typing import Any

from gemini_batch.local.bigquery_faults import error_body, respond

# /bigquery/v2/projects/{project}/datasets/{dataset}/tables
TABLES_PATH = re.compile(r"^/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/?$")


def dataset_not_found(project: str, dataset: str) -> bytes:
    # BigQuery's error body for a missing dataset (reason notFound, HTTP 404)
    return error_body(404, "notFound", f"Not found: Dataset {project}:{dataset}")


class TablesListASGI:
    def __init__(self, app: Any, context: Any) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = TABLES_PATH.match(scope.get("path", "")) if scope.get("type") == "http" else None
        if match is None or scope.get("method") != "GET" or self.context.catalog.get_dataset(*match.groups()):
            await self.app(scope, receive, send)
            return
        await respond(send, 404, dataset_not_found(*match.groups()))


def install() -> None:
    """Wrap bqemulator's REST app (before its server starts; bigquery_gate wraps it again, outermost)."""
    from bqemulator import server

    create_app = server.create_app
    server.create_app = lambda context: TablesListASGI(create_app(context), context)  # type: ignore[assignment,return-value]
