"""Resource monitors as Snowflake defines them, parsed from the DDL and metered in virtual time.

    CREATE RESOURCE MONITOR dashboards WITH CREDIT_QUOTA = 50
      TRIGGERS ON 75 PERCENT DO NOTIFY ON 100 PERCENT DO SUSPEND

A monitor counts the credits its warehouse uses since the start of the current interval (`FREQUENCY`;
the twin resets DAILY monitors at midnight and treats the longer intervals as not resetting within a
run). Each trigger fires once per interval when usage reaches its share of the quota: NOTIFY only
records it, SUSPEND lets running queries finish and then suspends the warehouse, SUSPEND_IMMEDIATE
suspends at once. A suspended warehouse stays down for the rest of the interval; queries that need it
fail or fall back to stale cache entries.

The meter bills like `twin.cost.billing.warehouse_clock`: a call resumes the warehouse, which stays up
until `auto_suspend_s` after the last call ends; a resume shorter than the minimum is charged the rest
when it ends. Credits accrue linearly while the warehouse is up, so the moment a threshold is reached
is exact, not the time of the next check.

Only the clauses above are accepted (an allowlist of the grammar): anything else is an error naming the
word and what the parser expected.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from twin.errors import TwinError

Action = Literal["NOTIFY", "SUSPEND", "SUSPEND_IMMEDIATE"]
Frequency = Literal["MONTHLY", "DAILY", "WEEKLY", "YEARLY", "NEVER"]
DAY_S = 86_400.0


class MonitorError(TwinError, ValueError):
    """The resource monitor DDL is not one this parser accepts; the message says where and why."""


class Trigger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    percent: int = Field(gt=0)
    action: Action


class ResourceMonitor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    credit_quota: float = Field(gt=0)
    frequency: Frequency = "MONTHLY"
    triggers: list[Trigger] = []


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<word>[A-Za-z_][A-Za-z0-9_$]*|\"[^\"]+\")|(?P<sym>[=;]))"
)


def _tokens(ddl: str) -> list[str]:
    out, pos, text = [], 0, ddl.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise MonitorError(
                f"resource monitor DDL: unexpected {text[pos : pos + 20]!r} at character {pos}"
            )
        out.append(m.group(m.lastgroup or "word"))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if out and out[-1] == ";":
        out.pop()
    return out


def parse_resource_monitor(ddl: str) -> ResourceMonitor:
    """`CREATE [OR REPLACE] RESOURCE MONITOR [IF NOT EXISTS] name WITH CREDIT_QUOTA = n
    [FREQUENCY = f] [TRIGGERS ON p PERCENT DO action ...]`."""
    toks = _tokens(ddl)
    i = 0

    def expect(*words: str) -> str:
        nonlocal i
        got = toks[i] if i < len(toks) else "the end"
        if got.upper() not in words:
            raise MonitorError(
                f"resource monitor DDL: expected {' or '.join(words)}, got {got!r} (word {i + 1})"
            )
        i += 1
        return got.upper()

    def peek(word: str) -> bool:
        return i < len(toks) and toks[i].upper() == word

    def number(what: str) -> float:
        nonlocal i
        got = toks[i] if i < len(toks) else "the end"
        try:
            value = float(got)
        except ValueError:
            raise MonitorError(f"resource monitor DDL: {what} needs a number, got {got!r}") from None
        i += 1
        return value

    expect("CREATE")
    if peek("OR"):
        expect("OR")
        expect("REPLACE")
    expect("RESOURCE")
    expect("MONITOR")
    if peek("IF"):
        expect("IF")
        expect("NOT")
        expect("EXISTS")
    if i >= len(toks) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*|\"[^\"]+\"", toks[i]):
        raise MonitorError("resource monitor DDL: expected the monitor's name after RESOURCE MONITOR")
    name = toks[i].strip('"')
    i += 1
    expect("WITH")
    quota: float | None = None
    frequency = "MONTHLY"
    triggers: list[Trigger] = []
    while i < len(toks):
        word = expect("CREDIT_QUOTA", "FREQUENCY", "TRIGGERS")
        if word == "CREDIT_QUOTA":
            expect("=")
            quota = number("CREDIT_QUOTA")
        elif word == "FREQUENCY":
            expect("=")
            frequency = expect("MONTHLY", "DAILY", "WEEKLY", "YEARLY", "NEVER")
        else:
            while peek("ON"):
                expect("ON")
                pct = number("ON … PERCENT")
                if pct != int(pct) or pct <= 0:
                    raise MonitorError(
                        f"resource monitor DDL: a trigger's percent is a positive integer, got {pct:g}"
                    )
                expect("PERCENT")
                expect("DO")
                action = expect("NOTIFY", "SUSPEND", "SUSPEND_IMMEDIATE")
                triggers.append(Trigger(percent=int(pct), action=action))
            if not triggers:
                raise MonitorError("resource monitor DDL: TRIGGERS needs at least one ON n PERCENT DO action")
    if quota is None or quota <= 0:
        raise MonitorError("resource monitor DDL: CREDIT_QUOTA = n (credits, > 0) is required")
    triggers.sort(key=lambda t: t.percent)
    return ResourceMonitor(name=name, credit_quota=quota, frequency=frequency, triggers=triggers)


class Notification(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    t_s: float  # virtual seconds since the run's start
    percent: int
    action: Action
    credits: float


class MonitorMeter:
    """Credits used by one warehouse in virtual time, and the monitor's triggers as they fire.

    Feed calls in time order with `call(t, seconds)`; ask `suspended(t)` before sending one.
    `start_clock_s` is the clock time of t = 0 (for DAILY resets at midnight).
    """

    def __init__(
        self,
        monitor: ResourceMonitor,
        *,
        credits_per_hour: float,
        min_billing_s: float,
        auto_suspend_s: float,
        start_clock_s: float = 0.0,
    ) -> None:
        self.monitor = monitor
        self.rate = credits_per_hour / 3600.0  # credits per billed second
        self.min_billing_s = min_billing_s
        self.auto_suspend_s = auto_suspend_s
        self.start_clock_s = start_clock_s
        self.notifications: list[Notification] = []
        self.credits_total = 0.0
        self._used = 0.0  # credits in the current interval, up to self._t
        self._t = 0.0
        self._run: tuple[float, float] | None = None  # (resumed at, up until)
        self._busy_until = 0.0
        self._fired: set[int] = set()
        self._suspended_at: float | None = None
        self._interval = self._interval_of(0.0)

    def _interval_of(self, t: float) -> int:
        return int((self.start_clock_s + t) // DAY_S) if self.monitor.frequency == "DAILY" else 0

    @property
    def used(self) -> float:
        return self._used

    def _accrue(self, credits: float, t_end: float) -> None:
        """Add credits accruing linearly from self._t to t_end, firing triggers at their exact time."""
        t0, used0 = self._t, self._used
        quota = self.monitor.credit_quota
        for trig in self.monitor.triggers:
            if trig.percent in self._fired:
                continue
            at_credits = quota * trig.percent / 100.0
            if used0 + credits + 1e-12 < at_credits:
                break
            frac = (at_credits - used0) / credits if credits > 0 else 0.0
            t_fire = t0 + max(0.0, frac) * (t_end - t0)
            self._fired.add(trig.percent)
            self.notifications.append(
                Notification(
                    t_s=round(t_fire, 6),
                    percent=trig.percent,
                    action=trig.action,
                    credits=round(at_credits, 6),
                )
            )
            if trig.action != "NOTIFY" and self._suspended_at is None:
                self._suspend(t_fire, immediate=trig.action == "SUSPEND_IMMEDIATE")
                # the warehouse goes down: no more accrual past the suspension point
                end = self._run[1] if self._run else t_fire
                credits = max(0.0, (min(end, t_end) - t0) * self.rate) if t_end > t0 else credits
                break
        self._used += credits
        self.credits_total += credits
        self._t = max(self._t, t_end)

    def _suspend(self, t: float, *, immediate: bool) -> None:
        self._suspended_at = t
        if self._run is not None:
            end = t if immediate else max(t, min(self._busy_until, self._run[1]))
            self._run = (self._run[0], end)

    def advance(self, t: float) -> None:
        """Bring the meter to virtual time t: accrue the up time, fire triggers, reset intervals."""
        while True:
            interval = self._interval_of(t)
            if interval != self._interval:  # a DAILY monitor resets at midnight
                boundary = (self._interval + 1) * DAY_S - self.start_clock_s
                self._advance_within(boundary)
                self._interval = self._interval_of(boundary)
                self._used, self._fired, self._suspended_at = 0.0, set(), None
                continue
            self._advance_within(t)
            return

    def _advance_within(self, t: float) -> None:
        if t <= self._t:
            return
        if self._run is None:
            self._t = t
            return
        start, end = self._run
        up_to = min(t, end)
        if up_to > self._t:
            self._accrue((up_to - self._t) * self.rate, up_to)
        start, end = self._run  # a suspension may have cut the run short
        if t >= end:
            short = self.min_billing_s - (end - start)
            self._run = None
            self._t = max(self._t, end)
            if short > 0:  # a resume is billed at least the minimum: the rest is charged as it ends
                self._accrue(short * self.rate, self._t)
        self._t = max(self._t, t)

    def suspended(self, t: float) -> bool:
        self.advance(t)
        return self._suspended_at is not None

    def call(self, t: float, seconds: float) -> None:
        """A query starts on the warehouse at t and runs `seconds` (resuming it when suspended)."""
        self.advance(t)
        end = t + seconds
        self._busy_until = max(self._busy_until, end)
        if self._run is None:
            self._run = (t, end + self.auto_suspend_s)
        else:
            self._run = (self._run[0], max(self._run[1], end + self.auto_suspend_s))

    def summary(self) -> dict[str, object]:
        return {
            "name": self.monitor.name,
            "credit_quota": self.monitor.credit_quota,
            "frequency": self.monitor.frequency,
            "triggers": [t.model_dump() for t in self.monitor.triggers],
            "credits_used": round(self.credits_total, 4),
            "suspended_at_s": None if self._suspended_at is None else round(self._suspended_at, 6),
            "notifications": [n.model_dump() for n in self.notifications],
        }
