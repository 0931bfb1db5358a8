"""Chargeback: a day's warehouse cost split over personas and clients by the warehouse calls each caused.

Cache hits cost the warehouse nothing, so a client's share is its share of the calls that reached the
warehouse; the shared idle time (auto-suspend tails, minimum billing) is spread the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def chargeback(
    usage: Mapping[str, tuple[int, int] | list[int]],
    *,
    per_day: float | None,
    group_of: Mapping[str, str],
    top: int = 10,
) -> dict[str, Any]:
    """`usage` maps a client to (requests, warehouse calls); `group_of` maps it to its persona."""
    calls = sum(u[1] for u in usage.values())

    def price(n: int) -> float | None:
        if per_day is None:
            return None
        return round(per_day * n / calls, 2) if calls else 0.0

    groups: dict[str, list[int]] = {}
    for user, (req, wh) in usage.items():
        g = groups.setdefault(group_of.get(user, user), [0, 0, 0])
        g[0] += 1
        g[1] += req
        g[2] += wh
    personas = [
        {"persona": name, "clients": n, "requests": req, "warehouse_calls": wh,
         "share": round(wh / calls, 4) if calls else 0.0, "per_day": price(wh)}
        for name, (n, req, wh) in sorted(groups.items())
    ]  # fmt: skip
    ranked = sorted(usage.items(), key=lambda kv: (-kv[1][1], kv[0]))[:top]
    clients = [
        {"client": user, "persona": group_of.get(user, user), "requests": req, "warehouse_calls": wh,
         "per_day": price(wh)}
        for user, (req, wh) in ranked
    ]  # fmt: skip
    return {"basis": "warehouse clock per day, split by warehouse calls", "personas": personas,
            "top_clients": clients}  # fmt: skip
