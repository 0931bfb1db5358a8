"""Durations ("90s", "5m", "2h", "1d", "250ms" or plain seconds) and times of day ("10:00")."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d)?\s*$")
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a duration; numbers are seconds already."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '90s', '5m' or '2h'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNITS[m.group(2) or "s"]
    raise ValueError(f"expected a duration like '90s', '5m' or '2h', got {value!r}")


def parse_clock(value: object) -> float:
    """Seconds after midnight from 'HH:MM' or 'HH:MM:SS'."""
    if not isinstance(value, str):
        raise ValueError(
            f"expected a time of day in quotes like '10:00', got {value!r} "
            "(unquoted 10:00 is read by YAML as a number)"
        )
    m = _CLOCK.match(value)
    if not m:
        raise ValueError(f"expected a time of day like '10:00' or '10:00:30', got {value!r}")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 24 or mi > 59 or s > 59:
        raise ValueError(f"not a time of day: {value!r}")
    return h * 3600.0 + mi * 60.0 + s


def format_clock(seconds_after_midnight: float) -> str:
    s = int(seconds_after_midnight) % 86400
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
