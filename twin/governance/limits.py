"""Per-role bounds on a governed query: how long it may run, how much memory it may take, how much
it may return.

Without them one recursive CTE or cross join runs until someone kills the process, and one
`repeat('x', 3000000000::BIGINT)` allocates a 3 GB value (11.5 GB of RSS once Python holds it,
measured). The bounds and how they are enforced:

- `timeout_s`: a watchdog thread interrupts the session's connection (`interrupt()`) at the deadline.
  One thread serves every session; arming it costs a dict insert and, at most once per timeout period,
  a wake-up (see `Watchdog`), not a thread per statement.
- `memory_mb`: DuckDB's per-connection `operator_memory_limit` (sorts, hash tables, aggregates spill or
  fail past it); in a process that only serves user queries (`harden`) also the instance's
  `memory_limit` and the process's data-segment limit (RLIMIT_DATA), which is what stops a single huge
  value: DuckDB allocates string results outside its buffer manager, so only the OS limit sees them
  (the allocation then fails with DuckDB's OutOfMemoryException, RSS untouched).
- `max_rows` / `max_bytes`: the result is fetched in chunks and the query stops once either is passed.

Defaults live in `policies/limits.yaml`; an override file (`TWIN_LIMITS`, else `limits.yaml` in the
twin home) replaces the defaults it names and adds per-role entries.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.governance.errors import GovernanceError

SHIPPED_LIMITS = Path(__file__).parent / "policies" / "limits.yaml"
LIMITS_ENV = "TWIN_LIMITS"


class RoleLimits(BaseModel):
    """The bounds one session runs under."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(30.0, gt=0, le=86_400)
    memory_mb: int = Field(1024, ge=64)
    max_rows: int = Field(100_000, ge=1)
    max_bytes: int = Field(64 * 2**20, ge=1024)


class RoleOverride(BaseModel):
    """A role's entry in a limits file: only the bounds it changes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float | None = Field(None, gt=0, le=86_400)
    memory_mb: int | None = Field(None, ge=64)
    max_rows: int | None = Field(None, ge=1)
    max_bytes: int | None = Field(None, ge=1024)


class Limits(BaseModel):
    """Defaults plus per-role overrides (role names as in the policy files, upper case)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    defaults: RoleLimits = Field(default_factory=RoleLimits)
    roles: dict[str, RoleOverride] = Field(default_factory=dict)

    @field_validator("roles")
    @classmethod
    def _upper(cls, v: dict[str, RoleOverride]) -> dict[str, RoleOverride]:
        return {k.upper(): o for k, o in v.items()}

    def for_role(self, role: str) -> RoleLimits:
        o = self.roles.get(role.upper())
        if o is None:
            return self.defaults
        return self.defaults.model_copy(update=o.model_dump(exclude_none=True))

    def merged(self, other: Limits, other_fields: set[str]) -> Limits:
        """`other` over `self`: defaults field by field (those it set), roles entry by entry."""
        defaults = self.defaults
        if "defaults" in other_fields:
            defaults = defaults.model_copy(update=other.defaults.model_dump(exclude_unset=True))
        return Limits(defaults=defaults, roles={**self.roles, **other.roles})


def _read(path: Path) -> tuple[Limits, set[str]]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise GovernanceError(f"cannot read limits file {path}: {e}") from None
    try:
        limits = Limits.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise GovernanceError(f"limits file {path}: {where}: {err['msg']}") from None
    # Which default fields the file set: only those override the shipped ones.
    return limits, set(data) if isinstance(data, dict) else set()


_loaded: dict[tuple[str, float], Limits] = {}


def load_limits(override: Path | None = None) -> Limits:
    """The shipped limits with the override file (argument, `TWIN_LIMITS`, or `<home>/limits.yaml`)."""
    if override is None:
        env = os.environ.get(LIMITS_ENV)
        if env:
            override = Path(env)
            if not override.is_file():
                raise GovernanceError(f"{LIMITS_ENV}={env}: no such file")
        else:
            from twin.config import paths

            home = paths().home / "limits.yaml"
            override = home if home.is_file() else None
    key = (str(override), override.stat().st_mtime if override else 0.0)
    cached = _loaded.get(key)
    if cached is not None:
        return cached
    base, _ = _read(SHIPPED_LIMITS)
    if override is not None:
        extra, fields = _read(override)
        base = base.merged(extra, fields)
    _loaded[key] = base
    return base


def cap_process_memory(memory_mb: int, headroom_mb: int = 512) -> Callable[[], None]:
    """Lower this process's data-segment limit to what it uses now plus `memory_mb` and some headroom;
    returns a function that restores the previous limit.

    Only the soft limit moves, so restoring needs no privilege. A no-op where the OS has no RLIMIT_DATA.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux
        return lambda: None
    used = _vm_data_bytes()
    if used is None:
        return lambda: None
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    want = used + (memory_mb + headroom_mb) * 2**20
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft <= want:
        return lambda: None
    resource.setrlimit(resource.RLIMIT_DATA, (want, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _vm_data_bytes() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class _Ticket:
    __slots__ = ("deadline", "fired", "target")

    def __init__(self, target: Any, deadline: float) -> None:
        self.target = target
        self.deadline = deadline
        self.fired = False


class Watchdog:
    """Interrupts statements that pass their deadline; one daemon thread for every session.

    A statement arms a ticket and disarms it when done; a session runs one statement at a time, so the
    thread only ever scans the statements running right now. It sleeps until the earliest deadline it
    knows of, and a new ticket wakes it only when its deadline is earlier than that. With nothing
    running it sleeps one timeout period rather than forever, so a stream of statements that finish in
    time costs one wake-up per period, not a wake-up (or a thread) per statement.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: dict[int, _Ticket] = {}
        self._wake_at = float("inf")
        self._period = 1.0
        self._thread: threading.Thread | None = None

    def arm(self, target: Any, timeout_s: float) -> _Ticket:
        deadline = time.monotonic() + timeout_s
        ticket = _Ticket(target, deadline)
        with self._cond:
            self._active[id(ticket)] = ticket
            self._period = timeout_s
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="twin-watchdog", daemon=True)
                self._thread.start()
            if deadline < self._wake_at:
                self._wake_at = deadline
                self._cond.notify()
        return ticket

    def disarm(self, ticket: _Ticket) -> bool:
        """Stop watching; True when the deadline had already fired (the statement was interrupted)."""
        with self._cond:
            self._active.pop(id(ticket), None)
            ticket.target = None  # the connection must not outlive its session through a ticket
            return ticket.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for key, t in list(self._active.items()):
                    if t.deadline <= now:
                        del self._active[key]
                        t.fired = True
                        # Under the lock: the statement cannot disarm and start its next one meanwhile,
                        # so the interrupt hits the statement that overran (or an idle connection,
                        # which ignores it).
                        # A connection closed meanwhile has nothing to interrupt.
                        with contextlib.suppress(Exception):
                            t.target.interrupt()
                        t.target = None
                deadlines = [t.deadline for t in self._active.values()]
                self._wake_at = min(deadlines) if deadlines else now + self._period
                self._cond.wait(max(0.0, self._wake_at - now))


WATCHDOG = Watchdog()
