"""Counts the materialization hands to the hook of the same dbt invocation, so that an unchanged model's request
hashes are read against its answer cache once per run, not twice.

The materialization (macros/materializations/gemini_batch/_report_pending.sql, _publish_counts) counts the staged
rows against the cache before anything else; when nothing it did afterwards changed the answers, it writes that count
in a debug-level log line, which dbt gives to the runner's event callback in the same process (gemini_batch/
runner.py). batch/plan.py count_requests then uses it instead of a statement.
A count with pending requests is handed over only with the ledger's mark for the cache taken before the staged rows
read it (`ledger_mark`, the materialization's _ledger_mark): the hook, under its submit lease, uses the count (and
selects the pending rows by their staged state, without reading the cache) only while the ledger still shows that
mark, i.e. no job was merged and no inline answer written for the cache since the states were read.
Kept light (no Google client imports): the runner imports it before dbt starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestCounts:
    """One read of a model's request hashes against its answer cache."""

    rows: int  # rows of m__requests
    hashes: int  # distinct request_hash: identical rows are one request
    pending: int
    exhausted: int  # given up after max_attempts failures
    # the hook's own count also splits the hashes as the spend guards' plan does (spend/estimate.py plan_model, which
    # then does not count them again); None in a count the materialization handed over
    answered: int | None = None
    new: int | None = None
    retries_due: int | None = None
    # a count the materialization handed over with pending requests: the ledger's mark (events, latest event's unix
    # micros) for the cache taken before its staged states were read (Ledger.events_mark without exclusion)
    ledger_mark: tuple[int, int] | None = None


# The start of _publish_counts' log line (the macro _published_counts_prefix writes the same text).
PUBLISHED_COUNTS_PREFIX = "gemini_batch counted: "
# dbt node -> (invocation, requests table, answer cache, max_attempts, counts): the last count the materialization
# handed over for the node, until the hook takes it or dbt starts building the node again (discard).
_published: dict[str, tuple[str, str, str, int, RequestCounts]] = {}


def remember_published_counts(message: str) -> bool:
    """Keeps the count of a `_publish_counts` log line; False for any other message (or a malformed one)."""
    if not message.startswith(PUBLISHED_COUNTS_PREFIX):
        return False
    try:
        data = json.loads(message[len(PUBLISHED_COUNTS_PREFIX) :])
        counts = RequestCounts(
            rows=int(data["rows"]), hashes=int(data["hashes"]), pending=int(data["pending"]),
            exhausted=int(data["given_up"]),
        )  # fmt: skip
        mark = data.get("ledger_mark")
        if counts.pending and mark is not None:  # the split the spend guards' plan needs (answered: the rest)
            new, retries_due = int(data["new"]), int(data["retry"])
            counts = replace(
                counts, answered=counts.hashes - new - retries_due - counts.exhausted, new=new,
                retries_due=retries_due, ledger_mark=(int(mark[0]), int(mark[1])),
            )  # fmt: skip
        entry = (
            str(data["invocation_id"]), str(data["requests_table"]), str(data["responses_table"]),
            int(data["max_attempts"]), counts,
        )  # fmt: skip
        _published[str(data["unique_id"])] = entry
    except (ValueError, KeyError, TypeError):
        return False
    return True


def discard(unique_id: str) -> None:
    """dbt starts building the node (again, e.g. in a later phase of the same run): a count it handed over before
    describes requests that are about to be replaced."""
    _published.pop(unique_id, None)


def take_published(
    unique_id: str, invocation_id: str, requests_table: str, responses_table: str, max_attempts: int
) -> RequestCounts | None:
    """The materialization's count of this node, once: only from this invocation, for these tables and the same
    max_attempts, with nothing pending or with the ledger mark under which it holds (the caller compares it with the
    ledger's current one)."""
    found = _published.pop(unique_id, None)
    if found is None or found[:4] != (invocation_id, requests_table, responses_table, max_attempts):
        return None
    return None if found[4].pending and found[4].ledger_mark is None else found[4]
