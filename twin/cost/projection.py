"""Projecting a day from a window of it, by the traffic profile rather than by one ratio.

Multiplying a window's warehouse bill by (day's queries / window's queries) is wrong by more than an
order of magnitude: a quiet night window bills a resume per query, a busy hour keeps the warehouse
up anyway, and a cold or quiet cache hits less. Measured on `advisor_peak_day` (seed 20261122): a
10-minute window from midnight projected $78,100/day of warehouse clock against $3,299 for the run
of the whole day.

Here the day is modelled hour by hour from the scenario's traffic profile, with the two effects
that do not scale linearly with traffic written out:

- hit rate of a TTL cache that stores on a miss: a key asked for at Poisson rate λ is a hit with
  probability λT / (1 + λT) (each miss opens a TTL window in which every request hits), so the hit
  rate of a stream is Σ p_k · λp_kT / (1 + λp_kT) over its keys' popularities p_k;
- the warehouse clock under Poisson misses at rate m: the warehouse is up unless no query started in
  the last (query seconds + auto-suspend), a share exp(-m(d + A)) of the time; each resume is billed
  at least the minimum.

The model is then fitted to the window that was run: each daily figure is the model's day times
(observed in the window / model's prediction for the window), so the projection agrees with what the
run saw. The range reported spans the uncorrected model and the corrected one, widened by the
window's Poisson noise. Windows too short, or quieter than the day's average hour, are refused:
their cache is cold or their warehouse idles in a way the busy hours never do.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

DAY_S = 86_400.0
MIN_WINDOW_S = 1_800.0  # under 30 minutes the cold cache and a handful of resumes dominate
MIN_DAY_SHARE = 0.05  # the window must hold at least this share of the day's requests


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyStream(_Frozen):
    """Requests sharing one cache key space (one operation under one cache scope)."""

    name: str
    hourly_rps: list[float] = Field(min_length=24, max_length=24)  # requests/s, hour 0..23 of the day
    n_keys: int = Field(gt=0)
    zipf_s: float | None = None  # None: every key equally popular

    def popularity(self) -> np.ndarray:
        if self.zipf_s is None:
            return np.full(self.n_keys, 1.0 / self.n_keys)
        w = 1.0 / np.arange(1, self.n_keys + 1) ** self.zipf_s
        return w / w.sum()


class Traffic(_Frozen):
    streams: list[KeyStream]
    ttl_s: float = Field(ge=0)
    cache_enabled: bool = True


class WarehouseTerms(_Frozen):
    seconds_per_query: float = Field(gt=0)
    min_billing_s: float = Field(ge=0)
    auto_suspend_s: float = Field(ge=0)


class Observed(_Frozen):
    """What the run saw in its window."""

    start_s: float  # clock time of the window's start, seconds since midnight
    duration_s: float = Field(gt=0)
    queries: int = Field(ge=0)
    misses: int = Field(ge=0)  # calls that reached the warehouse
    billed_s: float = Field(ge=0)
    busy_s: float = Field(0.0, ge=0)  # time at least one query ran


class Figures(_Frozen):
    queries: float
    misses: float
    billed_s: float
    busy_s: float = 0.0

    @property
    def hit_rate(self) -> float:
        return min(1.0, max(0.0, 1.0 - self.misses / self.queries)) if self.queries else 0.0


class Projection(_Frozen):
    method: Literal["full_day", "profile", "refused"]
    note: str  # how it projected, or why it would not
    day: Figures | None  # the point estimate for a day
    low: Figures | None
    high: Figures | None
    model_day: Figures | None  # the profile model alone, before fitting to the window
    window_share: float  # the share of a day's requests the window holds


def _segments(start_s: float, duration_s: float) -> list[tuple[int, float]]:
    """(hour of day, seconds) pieces of a window."""
    out: list[tuple[int, float]] = []
    t, end = start_s, start_s + duration_s
    while t < end - 1e-9:
        step = min((math.floor(t / 3600) + 1) * 3600, end) - t
        out.append((int(t // 3600) % 24, step))
        t += step
    return out


def _hit_rate(p: np.ndarray, rps: float, ttl_s: float) -> float:
    x = rps * p * ttl_s
    return float(np.sum(p * x / (1.0 + x)))


def _cold_extra_misses(p: np.ndarray, rps: float, ttl_s: float) -> float:
    """Misses beyond the steady state in the first TTL of an empty cache."""
    lam_t = rps * p * ttl_s
    return float(np.sum(-np.expm1(-lam_t) - lam_t / (1.0 + lam_t)))


def _billed(miss_rps: float, seconds: float, terms: WarehouseTerms) -> float:
    reach = terms.seconds_per_query + terms.auto_suspend_s
    off = math.exp(-miss_rps * reach)
    resumes = miss_rps * seconds * off
    return seconds * (1.0 - off) + resumes * max(0.0, terms.min_billing_s - reach)


def model_window(traffic: Traffic, terms: WarehouseTerms, start_s: float, duration_s: float) -> Figures:
    """The profile model's expected queries, warehouse calls and billed seconds over a window."""
    pops = [s.popularity() for s in traffic.streams]
    segs = _segments(start_s, duration_s)
    queries = misses = billed = busy = 0.0
    ttl = traffic.ttl_s if traffic.cache_enabled else 0.0
    for i, (hour, secs) in enumerate(segs):
        miss_rps = 0.0
        for stream, p in zip(traffic.streams, pops, strict=True):
            rps = stream.hourly_rps[hour]
            h = _hit_rate(p, rps, ttl) if ttl else 0.0
            queries += rps * secs
            miss_rps += rps * (1.0 - h)
            if i == 0 and ttl:
                misses += _cold_extra_misses(p, rps, min(ttl, duration_s))
        misses += miss_rps * secs
        billed += _billed(miss_rps, secs, terms)
        busy += secs * -math.expm1(-miss_rps * terms.seconds_per_query)
    return Figures(queries=queries, misses=misses, billed_s=billed, busy_s=busy)


def _refusal(obs: Observed, traffic: Traffic, window: Figures, day: Figures) -> str | None:
    """Why this window cannot stand for the day, or None."""
    share = window.queries / day.queries if day.queries else 0.0
    limit = max(MIN_WINDOW_S, 6 * traffic.ttl_s)
    if obs.duration_s < limit:
        return (
            f"the window is {obs.duration_s / 60:g} min; projecting a day needs at least {limit / 60:g} min "
            "(shorter windows are dominated by the cold cache). Run a longer --duration."
        )
    if share < MIN_DAY_SHARE:
        return (
            f"the window holds {share:.1%} of the day's requests (at least {MIN_DAY_SHARE:.0%} needed); "
            "run a longer window (--duration) or one in busier hours (--start 09:00)."
        )
    per_hour, mean = window.queries / (obs.duration_s / 3600), day.queries / 24
    if per_hour < mean:
        return (
            f"the window averages {per_hour:,.0f} requests/hour, below the day's mean of {mean:,.0f}: a "
            "quiet window's cache and warehouse idling do not carry to the busy hours. Run a window in "
            "business hours (--start 09:00), or the whole day."
        )
    return None


def project_day(traffic: Traffic, terms: WarehouseTerms, obs: Observed) -> Projection:
    """A day's queries, warehouse calls and billed seconds from a window, or a refusal saying why."""
    model_day = model_window(traffic, terms, 0.0, DAY_S)
    if obs.duration_s >= DAY_S - 1e-6:
        k = DAY_S / obs.duration_s
        day = Figures(queries=obs.queries * k, misses=obs.misses * k, billed_s=obs.billed_s * k,
                      busy_s=obs.busy_s * k)  # fmt: skip
        note = "the run covers a whole day: its own figures" + (
            f", scaled by {k:.4g} to one day" if k != 1 else ""
        )
        return Projection(method="full_day", note=note, day=day, low=day, high=day, model_day=model_day,
                          window_share=1.0)  # fmt: skip
    window = model_window(traffic, terms, obs.start_s, obs.duration_s)
    share = window.queries / model_day.queries if model_day.queries else 0.0
    why = _refusal(obs, traffic, window, model_day)
    if why is not None:
        return Projection(method="refused", note="cannot project a day: " + why, day=None, low=None,
                          high=None, model_day=model_day, window_share=share)  # fmt: skip

    def fit(observed: float, modelled_window: float, modelled_day: float, count: int) -> tuple[float, ...]:
        """Point, low, high: the model's day scaled by observed/modelled in the window; the range spans
        the unfitted model and the fitted one, widened by two Poisson sigmas of the driving count."""
        point = modelled_day * (observed / modelled_window) if modelled_window else modelled_day
        noise = min(1.0, 2.0 / math.sqrt(count)) if count >= 1 else 1.0
        lo, hi = min(point, modelled_day), max(point, modelled_day)
        return point, lo * (1 - noise), hi * (1 + noise)

    q = fit(obs.queries, window.queries, model_day.queries, obs.queries)
    m = fit(obs.misses, window.misses, model_day.misses, obs.misses)
    b = fit(obs.billed_s, window.billed_s, model_day.billed_s, obs.misses)
    u = fit(obs.busy_s, window.busy_s, model_day.busy_s, obs.misses)
    hours = obs.duration_s / 3600
    return Projection(
        method="profile",
        note=(
            f"projected from {hours:g} h holding {share:.1%} of the day's requests, hour by hour on the "
            "scenario's traffic profile (hit rate and warehouse idling modelled per hour), fitted to the "
            "window; the range spans the profile model alone and the fitted one, ± 2σ of the window's "
            "warehouse calls"
        ),
        day=Figures(queries=q[0], misses=m[0], billed_s=b[0], busy_s=u[0]),
        low=Figures(queries=q[1], misses=m[1], billed_s=max(0.0, b[1]), busy_s=max(0.0, u[1])),
        high=Figures(queries=q[2], misses=m[2], billed_s=b[2], busy_s=u[2]),
        model_day=model_day,
        window_share=share,
    )
