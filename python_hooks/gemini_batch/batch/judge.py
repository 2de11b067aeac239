"""Step 5b: judge the answers a job just merged, once: a truncated (MAX_TOKENS) or invalid_output answer is an
unusable answer, which the next run sends again like a failed row (retry_unusable_answers, README "Typed answers").

What "truncated" and "invalid_output" mean is the model's view's `output_state` column (the materialization renders
it from the output schema: macros/materializations/gemini_batch/_answer_state.sql), so this step reads the view
rather than repeating that logic in Python. It writes what the materialization's _mark_unusable_answers writes:
status `unusable answer: <state>` for an unusable answer, and `judged_at` = the answer's updated_at for every answer
judged, so neither this step nor the next build parses that answer again (an unchanged re-run parses no answer).

Only rows of the model's current requests are in the view: an answer of a request the model no longer makes is left
unjudged, as the materialization leaves it. A view or column that is missing (a model built by an older version of
the package, a view dropped by hand) leaves the answers to the next build, which judges whatever is unjudged.
"""

from __future__ import annotations

from google.api_core import exceptions as gexc

from gemini_batch.batch.context import BatchContext
from gemini_batch.dbt_project import BatchNode

# macros/materializations/gemini_batch/_answer_state.sql, _unusable_status_prefix(): the same text on both sides.
UNUSABLE_STATUS_PREFIX = "unusable answer: "
UNUSABLE_STATES = ("truncated", "invalid_output")


def judge_job_answers(ctx: BatchContext, node: BatchNode, job_name: str) -> bool:
    """Mark this job's unusable answers; False (and a message) when they are left to the next build."""
    try:
        columns = {f.name.lower() for f in ctx.bq.get_table(node.responses_table).schema}
        if "judged_at" not in columns:
            raise LookupError(f"{node.responses_table} has no judged_at column yet")
        ctx.sql(judge_sql(node), node=node.unique_id, job_name=job_name, prefix=UNUSABLE_STATUS_PREFIX)
    except (gexc.NotFound, gexc.BadRequest, LookupError) as exc:
        reason = getattr(exc, "message", None) or str(exc)
        ctx.progress.say(
            f"{node.name}: answers not checked for truncation or schema yet ({reason.splitlines()[0]}); "
            "the next build checks them"
        )
        return False
    return True


def judge_sql(node: BatchNode) -> str:
    states = ", ".join(f"'{s}'" for s in UNUSABLE_STATES)
    # DISTINCT: the view has a row per model row, and rows with the same request share a hash; a MERGE source must
    # match each target row at most once.
    return f"""
        merge `{node.responses_table}` as target
        using (
            select distinct request_hash, updated_at, output_state
            from `{node.view}`
            where job_name = @job_name and status = ''
        ) as judged
        on target.request_hash = judged.request_hash
        when matched and target.status = '' and target.updated_at = judged.updated_at
            and (target.judged_at is null or target.judged_at != target.updated_at) then update set
            status = if(judged.output_state in ({states}), concat(@prefix, judged.output_state), target.status),
            updated_at = if(judged.output_state in ({states}), current_timestamp(), target.updated_at),
            judged_at = target.updated_at
    """
