"""Warehouse-clock billing: what a Snowflake-style warehouse really charges for a stream of queries.

The warehouse resumes on a query, runs while queries overlap, stays up `auto_suspend_s` after the last
one ends, and each resume is billed at least `min_billing_s`. Concurrent queries share the clock, so
this can cost less than per-query arithmetic at high concurrency and more when queries trickle in.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel


class Billing(BaseModel):
    billed_s: float
    busy_s: float  # time at least one query ran
    idle_s: float  # billed time with nothing running (auto-suspend tails, minimums)
    resumes: int


def warehouse_clock(
    calls: Iterable[tuple[float, float]], *, min_billing_s: float = 60.0, auto_suspend_s: float = 60.0
) -> Billing:
    """`calls` are (start, duration) in seconds."""
    ordered = sorted(calls)
    billed = busy = 0.0
    resumes = 0
    run_start = run_end = None  # the current running period (queries plus suspend timer)
    busy_until = float("-inf")
    for start, dur in ordered:
        end = start + dur
        busy += max(0.0, end - max(start, busy_until))
        busy_until = max(busy_until, end)
        if run_end is not None and start <= run_end:
            run_end = max(run_end, end + auto_suspend_s)
            continue
        if run_start is not None and run_end is not None:
            billed += max(min_billing_s, run_end - run_start)
        run_start, run_end = start, end + auto_suspend_s
        resumes += 1
    if run_start is not None and run_end is not None:
        billed += max(min_billing_s, run_end - run_start)
    return Billing(billed_s=billed, busy_s=busy, idle_s=max(0.0, billed - busy), resumes=resumes)
