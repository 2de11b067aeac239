"""Step 5b: judge a job's answers in the statement that writes them: a truncated (MAX_TOKENS) or invalid_output
answer is an unusable answer, which the next run sends again like a failed row (retry_unusable_answers, README "Typed
answers").

What "truncated" and "invalid_output" mean is the model's `output_state` (the materialization renders it from the
output schema: macros/materializations/gemini_batch/_answer_state.sql), so this step reads it rather than repeating
that logic in Python: from m__collected_judged, a view the materialization puts over m__collected, the table collect
writes the job's rows to (_create_collect_relations.sql). collect.py inserts from that view, writing what the
materialization's _mark_unusable_answers writes: status `unusable answer: <state>` for an unusable answer, and
`judged_at` for every answer judged, so no later statement parses that answer again (an unchanged re-run parses no
answer) and no statement reads the whole cache to judge one job (README "Costs").

A view that is missing or out of date (a model built by an older version of the package, a view dropped by hand)
leaves the answers unjudged for the next build, which judges whatever is unjudged.
"""

from __future__ import annotations

from google.api_core import exceptions as gexc

from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode

# macros/materializations/gemini_batch/_answer_state.sql, _unusable_status_prefix(): the same text on both sides.
UNUSABLE_STATUS_PREFIX = "unusable answer: "
UNUSABLE_STATES = ("truncated", "invalid_output")
JUDGED_COLUMNS = {"request_hash", "status", "matches", "output_state"}


def judged_source(ctx: BatchContext, node: BatchNode) -> str | None:
    """The view that judges m__collected's rows, or None (and a message) when the answers are left to the next build."""
    try:
        columns = {f.name.lower() for f in ctx.bq.get_table(node.judged_view).schema}
        if not columns >= JUDGED_COLUMNS:
            raise LookupError(f"{node.judged_view} lacks {', '.join(sorted(JUDGED_COLUMNS - columns))}")
        columns = {f.name.lower() for f in ctx.bq.get_table(node.responses_table).schema}
        if "judged_at" not in columns:
            raise LookupError(f"{node.responses_table} has no judged_at column yet")
    except (gexc.NotFound, LookupError) as exc:
        reason = getattr(exc, "message", None) or str(exc)
        ctx.progress.say(
            f"{node.name}: answers not checked for truncation or schema yet ({reason.splitlines()[0]}); "
            "the next build checks them"
        )
        return None
    return node.judged_view


def judged_status_sql(row: str) -> str:
    """The status written for a judged row of alias `row` (needs @prefix): Vertex's, or `unusable answer: <state>`."""
    states = ", ".join(f"'{s}'" for s in UNUSABLE_STATES)
    return (
        f"if({row}.status = '' and {row}.output_state in ({states}), concat(@prefix, {row}.output_state), {row}.status)"
    )
