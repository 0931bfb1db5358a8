"""Cache hit rates replayed from a run's request stream, for TTL and popularity sweeps."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence


def replay(keys: Sequence[tuple[float, str]], ttl_s: float) -> float:
    """Hit rate of a read-through cache with this TTL over (time, key) lookups in time order."""
    if not keys:
        return 0.0
    stored: dict[str, float] = {}
    hits = 0
    for t, k in keys:
        at = stored.get(k)
        if at is not None and t - at < ttl_s:
            hits += 1
        else:
            stored[k] = t
    return hits / len(keys)


def zipf_replay(times: Sequence[float], n_keys: int, s: float, ttl_s: float, seed: int = 0) -> float:
    """Hit rate when the same request times ask for keys with Zipf(s) popularity over n_keys."""
    rng = random.Random(seed)
    cum = list(itertools.accumulate(1.0 / (i + 1) ** s for i in range(n_keys)))
    total = cum[-1]
    stream = [(t, str(bisect.bisect_right(cum, rng.random() * total))) for t in times]
    return replay(stream, ttl_s)
