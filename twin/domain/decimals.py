"""The fixed decimal scales of every amount the platform stores, defined once: the fixture files, the
streamed events' decoder and the warehouse's bronze columns all use these, so a row loaded from a file
and the same row arriving as an event land in identical DECIMAL columns."""

from __future__ import annotations

MONEY = (18, 2)
"""(precision, scale) of money amounts: balances, market values, AUM, prices per month."""
UNIT = (18, 4)
"""(precision, scale) of per-share prices, NAVs and share quantities."""


def sql_type(precision_scale: tuple[int, int]) -> str:
    """The SQL type of a scale, e.g. DECIMAL(18,2)."""
    return "DECIMAL({},{})".format(*precision_scale)
