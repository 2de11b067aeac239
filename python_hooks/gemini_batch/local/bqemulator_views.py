"""Let the local BigQuery read a view as a view, instead of pasting its whole body into every query that names it.

bqemulator's row-access rewriter parses each query with SQLGlot and replaces every view it references by the view's
body, then translates the result for DuckDB, so that row access policies on the view's base tables apply. It does
this on every query, with or without a policy anywhere: a query naming a gemini_batch model's view (11 KB of SQL with
the typed-answer checks) paid ~4 s of parsing and planning on every read, whatever it selected, which made each
generic test on such a view (answer_rate, no_pending, valid_request) and every mart over it slow.
BigQuery resolves a view without re-planning its text per query, and row-level access policies are the only reason
bqemulator expands views here, so while no row access policy exists in the local catalog the query goes on
unchanged to DuckDB, which holds the same view (bqemulator creates it there too). Once a policy exists, bqemulator's
own rewriter runs as before.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    from bqemulator.grpc_api import read_servicer
    from bqemulator.sql import inner_query

    modules: tuple[Any, ...] = (inner_query, read_servicer)
    for module in modules:
        module.rewrite_for_row_access = _only_with_policies(module.rewrite_for_row_access)


def _only_with_policies(rewrite: Any) -> Any:
    def rewrite_for_row_access(bq_sql: str, *, catalog: Any, **kwargs: Any) -> str:
        if not catalog.list_all_row_access_policies():
            return bq_sql
        return str(rewrite(bq_sql, catalog=catalog, **kwargs))

    return rewrite_for_row_access
