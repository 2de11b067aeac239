"""Let bqemulator accept `ALTER TABLE ... SET OPTIONS(...)` whose values hold parentheses.

bqemulator keeps no table options and turns the statement into a no-op, but only when the first `)` after `OPTIONS(`
closes the list. Options that BigQuery itself documents, and that the gemini_batch materialization sets on
m__requests and m__responses (`labels=[('team', 'ml')]`, `expiration_timestamp=TIMESTAMP_ADD(...)`), contain inner
parentheses, so bqemulator passed them on to DuckDB, which failed with "syntax error at end of input". The SQL we ship
stays the one BigQuery reads; the local engine only learns to find the matching parenthesis.
"""

from __future__ import annotations


def _matching_paren(sql: str, cursor: int) -> int | None:
    """Index of the `)` that closes the `(` at or after `cursor` (skipping whitespace), ignoring quoted text."""
    while cursor < len(sql) and sql[cursor].isspace():
        cursor += 1
    if cursor >= len(sql) or sql[cursor] != "(":
        return None
    depth = 0
    quote: str | None = None
    i = cursor
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if sql.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif sql.startswith(('"""', "'''"), i):
            quote = sql[i : i + 3]
            i += 3
            continue
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def install() -> None:
    """Replace bqemulator's first-`)` search with a matching-parenthesis one (before the app is built)."""
    from bqemulator.sql.rewriter import alter_table_set_options

    alter_table_set_options._match_balanced_parens = _matching_paren
