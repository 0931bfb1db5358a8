"""What a run records: latency histograms per operation (HDR), errors, freshness, and a timeline."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from hdrh.histogram import HdrHistogram

_US_MAX = 24 * 3600 * 1_000_000  # a day, in microseconds


def _hist() -> HdrHistogram:
    return HdrHistogram(1, _US_MAX, 3)


class LazyHist:
    """Seconds kept as floats and put into an HDR histogram (in microseconds) when it is read.

    HdrHistogram's `record_value` is pure Python and costs more than the rest of recording a request;
    at read time each distinct microsecond value is recorded once, with its count, which gives the
    same histogram (`np.rint` rounds half to even like `round`).
    """

    __slots__ = ("_h", "_pending")

    def __init__(self) -> None:
        self._h = _hist()
        self._pending: list[float] = []

    def add(self, seconds: float) -> None:
        self._pending.append(seconds)

    @property
    def hist(self) -> HdrHistogram:
        if self._pending:
            us = np.clip(np.rint(np.array(self._pending) * 1e6), 1, _US_MAX).astype(np.int64)
            self._pending.clear()
            values, counts = np.unique(us, return_counts=True)
            for v, n in zip(values.tolist(), counts.tolist(), strict=True):
                self._h.record_value(v, n)
        return self._h


@dataclass
class OpStats:
    recorded: LazyHist = field(default_factory=LazyHist)
    count: int = 0
    errors: int = 0
    denied: int = 0
    denied_unexpected: int = 0  # denials the scenario did not declare: they count as unavailable
    stale: int = 0
    total_s: float = 0.0  # kept here: HdrHistogram's own mean walks every bucket

    @property
    def hist(self) -> HdrHistogram:
        return self.recorded.hist

    def record(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        self.recorded.add(seconds)

    def summary(self) -> dict[str, float | int]:
        ok = self.hist.get_total_count()
        q = self.hist.get_value_at_percentile
        return {
            "count": self.count,
            "errors": self.errors,
            "denied": self.denied,
            "denied_unexpected": self.denied_unexpected,
            "stale": self.stale,
            "p50_ms": q(50) / 1000 if ok else 0.0,
            "p95_ms": q(95) / 1000 if ok else 0.0,
            "p99_ms": q(99) / 1000 if ok else 0.0,
            "max_ms": self.hist.get_max_value() / 1000 if ok else 0.0,
            "mean_ms": round(self.total_s / ok * 1000, 3) if ok else 0.0,
        }


@dataclass
class Bucket:
    requests: int = 0
    errors: int = 0
    hits: int = 0
    latencies: list[float] = field(default_factory=list)


class Recorder:
    def __init__(self, bucket_s: float) -> None:
        self.bucket_s = bucket_s
        self.ops: dict[str, OpStats] = defaultdict(OpStats)
        self.all = OpStats()
        self._freshness = LazyHist()
        self._staleness = LazyHist()
        self.buckets: dict[int, Bucket] = defaultdict(Bucket)
        self.misses_at: list[tuple[float, float]] = []  # (start, compute seconds) of warehouse calls
        self.keys: list[tuple[float, str]] = []  # (time, cache key) of every cached lookup, for sweeps
        self.rows_seen: dict[tuple[str, str], set[int]] = defaultdict(set)  # (role, op) -> row digests

    def request(self, op: str, now: float, latency_s: float, *, hit: bool) -> None:
        self.ops[op].record(latency_s)
        self.all.count += 1  # its histogram is the ops' merged at the end (one record per request)
        b = self.buckets[int(now // self.bucket_s)]
        b.requests += 1
        b.hits += hit
        b.latencies.append(latency_s)

    def error(self, op: str, now: float, *, denied: bool = False, expected: bool = False) -> None:
        """A call that was not served: failed, or denied (`expected` when the scenario declared it)."""
        stats = self.ops[op]
        stats.count += 1
        self.all.count += 1
        if denied:
            stats.denied += 1
            self.all.denied += 1
            if not expected:
                stats.denied_unexpected += 1
                self.all.denied_unexpected += 1
        else:
            stats.errors += 1
            self.all.errors += 1
        b = self.buckets[int(now // self.bucket_s)]
        b.requests += 1
        b.errors += not (denied and expected)  # the timeline shows what counts against availability

    @property
    def freshness(self) -> HdrHistogram:
        return self._freshness.hist

    @property
    def staleness(self) -> HdrHistogram:
        return self._staleness.hist

    def merge_all(self) -> None:
        """Fill the overall histogram from the per-operation ones."""
        self.all.recorded = LazyHist()
        self.all.total_s = 0.0
        for stats in self.ops.values():
            self.all.hist.add(stats.hist)
            self.all.total_s += stats.total_s

    def served_age(self, age_s: float, *, stale: bool) -> None:
        self._freshness.add(age_s)
        if stale:
            self._staleness.add(age_s)

    def timeline(self, duration_s: float) -> dict[str, list[float] | list[int]]:
        n = max(1, int(-(-duration_s // self.bucket_s)))
        t, req, err, p95, hit = [], [], [], [], []
        for i in range(n):
            b = self.buckets.get(i, Bucket())
            t.append(i * self.bucket_s)
            req.append(b.requests / self.bucket_s)
            err.append(b.errors)
            lat = sorted(b.latencies)
            p95.append(round(lat[int(0.95 * (len(lat) - 1))] * 1000, 3) if lat else 0.0)
            hit.append(round(b.hits / b.requests, 4) if b.requests else 0.0)
        return {"t_s": t, "throughput_rps": req, "errors": err, "p95_ms": p95, "cache_hit_rate": hit}


def hist_summary_s(h: HdrHistogram) -> dict[str, float | int]:
    n = h.get_total_count()
    return {
        "count": n,
        "p50_s": h.get_value_at_percentile(50) / 1e6 if n else 0.0,
        "p95_s": h.get_value_at_percentile(95) / 1e6 if n else 0.0,
        "max_s": h.get_max_value() / 1e6 if n else 0.0,
    }
