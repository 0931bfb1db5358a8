"""Service times measured on this machine at the start of a run, and sampled from during it.

A calibration is saved with every report; passing it back in (`twin run --calibration FILE`) with the
same seed gives the same report, wherever it runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field


class Calibration(BaseModel):
    """Measured wall seconds per operation (raw samples, in measurement order)."""

    machine: str = ""
    samples: dict[str, list[float]] = Field(default_factory=dict)

    def sampler(self, op: str) -> Callable[[random.Random], float]:
        values = self.samples.get(op)
        if not values:
            raise KeyError(f"calibration has no samples for {op!r}")
        ordered = sorted(values)
        n = len(ordered)
        return lambda rng: ordered[int(rng.random() * n)]

    def median(self, op: str) -> float:
        v = sorted(self.samples[op])
        return v[len(v) // 2]

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2))

    @classmethod
    def load(cls, path: Path) -> Calibration:
        return cls.model_validate_json(path.read_text())


def machine_label() -> str:
    import os
    import platform

    import psutil

    mem = psutil.virtual_memory().total / 2**30
    return f"{platform.machine()} {os.cpu_count()} cores {mem:.0f} GiB, Python {platform.python_version()}"
