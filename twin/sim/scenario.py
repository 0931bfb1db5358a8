"""Scenario files: what a run simulates, validated by pydantic, errors pointing at the YAML line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from twin.cost.params import CostParams
from twin.errors import TwinError
from twin.sim.durations import parse_clock, parse_duration
from twin.sim.yaml_lines import YamlSyntaxError, line_of, load_with_lines

# The shipped scenario files: package data, so an installed twin finds them outside a checkout.
SHIPPED_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

# Limits, checked when a scenario is loaded (and when a run overrides its duration), before any work:
# past them a run would hang the simulator or exhaust memory. Each error names the field, its line and
# the limit. Every persona user is a SimPy process; the shipped scenarios stay far below all of these.
MAX_SCENARIO_BYTES = 1 << 20  # 1 MiB of YAML; the shipped scenarios are under 4 KB
MAX_DURATION_S = 7 * 86_400.0
MAX_PERSONAS = 100_000  # simulated users over all personas
MAX_REQUESTS_PER_DAY = 1_000_000  # per simulated user
MAX_SIMULATED_REQUESTS = 20_000_000  # users x requests/day x days, the whole run
MAX_EVENT_RATE = 1_000_000.0  # events/s per source
MAX_CALIBRATION_SAMPLES = 1_000
MAX_KEY_LIMIT = 1_000_000


def _at_most(limit: float, what: str, hint: str) -> Any:
    def check(v: float) -> float:
        if v > limit:
            raise ValueError(f"{v:,.10g} {what} is over the limit of {limit:,.10g}; {hint}")
        return v

    return check


Seconds = Annotated[float, BeforeValidator(parse_duration)]
ClockTime = Annotated[float, BeforeValidator(parse_clock)]

# Relative request intensity per hour of day; normalised when used.
PROFILES: dict[str, list[float]] = {
    "flat": [1.0] * 24,
    "business_day": [
        0.05, 0.03, 0.02, 0.02, 0.03, 0.1, 0.4, 1.2, 2.4, 3.0, 3.2, 2.6,
        1.8, 2.2, 2.8, 2.6, 2.0, 1.2, 0.6, 0.3, 0.2, 0.15, 0.1, 0.07,
    ],
}  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheConfig(_Strict):
    enabled: bool = True
    ttl: Seconds = 300.0
    max_entries: int = Field(100_000, gt=0)
    stale_fallback: bool = True


class LatencyModel(_Strict):
    """Network latency one way round trip, milliseconds: mean plus uniform jitter."""

    mean_ms: float = Field(20.0, ge=0)
    jitter_ms: float = Field(5.0, ge=0)


class PlatformConfig(_Strict):
    warehouse_slots: int = Field(8, gt=0)
    api_workers: int = Field(32, gt=0)
    network: LatencyModel = LatencyModel()
    gold_refresh_every: Seconds = 900.0
    cache: CacheConfig = CacheConfig()
    broker_nodes: int = Field(3, gt=0)
    ingest_capacity_per_node: float = Field(8_000.0, gt=0, description="events/s one node absorbs")
    ingest_latency: Seconds = 1.5  # Snowpipe Streaming's 1–2 s
    calibration_samples: int = Field(20, gt=0)

    _samples_limit = field_validator("calibration_samples")(
        _at_most(MAX_CALIBRATION_SAMPLES, "calibration samples", "each one runs real queries")
    )


class KeySpec(_Strict):
    """Where a query's parameter comes from, and how popular each value is."""

    table: str
    column: str
    popularity: Literal["zipf", "uniform"] = "zipf"
    zipf_s: float = Field(1.1, gt=0)
    limit: int = Field(5_000, gt=0)

    _limit_limit = field_validator("limit")(_at_most(MAX_KEY_LIMIT, "keys", "sample fewer keys"))


class Operation(_Strict):
    """A request personas make: a named operation of the platform's catalogue (`use`, by default the
    operation's own name when no `sql` is given) or SQL of the scenario's own. A catalogue operation's
    key defaults to the column the catalogue samples its parameter from; the scenario sets popularity."""

    use: str | None = None
    sql: str
    key: KeySpec | None = None
    depends_on: list[Literal["crm"]] = []
    # Denials count against availability unless the scenario says they are the point (a probe that
    # checks a policy still refuses); then they are reported as denied but not as unavailable.
    expect_denied: bool = False

    @model_validator(mode="before")
    @classmethod
    def _from_catalogue(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or data.get("use") is None:
            return data
        from twin.platform.operations import CATALOGUE

        name = data["use"]
        op = CATALOGUE.get(name) if isinstance(name, str) else None
        if op is None:
            known = ", ".join(sorted(CATALOGUE))
            raise ValueError(
                f"no operation {name!r} in the platform's catalogue (known: {known}); name one with "
                "`use:` or give the operation's own `sql`"
            )
        if data.get("sql") is not None and " ".join(str(data["sql"]).split()) != " ".join(op.sql.split()):
            raise ValueError(f"use: {name} and sql disagree; give one or the other")
        out = {**data, "sql": op.sql}
        sources = [p.source for p in op.params if p.source is not None]
        if sources and out.get("key") is None:
            out["key"] = {}
        if sources and isinstance(out["key"], Mapping):
            out["key"] = {"table": sources[0].table, "column": sources[0].column, **out["key"]}
        return out

    @field_validator("sql")
    @classmethod
    def _one_parameter_when_keyed(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty SQL")
        return v

    @model_validator(mode="after")
    def _params_match_key(self) -> Operation:
        marks = self.sql.count("?")
        if self.key is not None and marks != 1:
            raise ValueError(f"a keyed operation's sql needs exactly one '?', found {marks}")
        if self.key is None and marks:
            raise ValueError("sql has '?' but the operation has no key to fill it")
        return self


def _role_name(v: str) -> str:
    """The governance layer's role-name syntax, ^[A-Za-z_][A-Za-z0-9_$]*$ (Snowflake identifiers).
    Whether the role exists is a property of the warehouse's policies, checked when a run opens it."""
    starts = v[:1].isalpha() or v[:1] == "_"
    if not (v.isascii() and starts and all(c.isalnum() or c in "_$" for c in v)):
        raise ValueError(f"not a role name: {v!r} (letters, digits, _ and $; not starting with a digit)")
    return v


RoleName = Annotated[str, AfterValidator(_role_name)]


class Persona(_Strict):
    name: str
    count: int = Field(gt=0)
    role: RoleName
    department: str | None = None
    secondary_roles: list[RoleName] = []
    # True: every denial this persona meets is expected; a list: only those operations' denials.
    expect_denied: bool | list[str] = False
    requests_per_day: float = Field(gt=0)
    think_time: Seconds = 10.0
    profile: str | list[float] = "business_day"
    mix: dict[str, float]

    _count_limit = field_validator("count")(
        _at_most(MAX_PERSONAS, "simulated users", "each is a process: model fewer, busier users")
    )
    _rate_limit = field_validator("requests_per_day")(
        _at_most(MAX_REQUESTS_PER_DAY, "requests per day per user", "use more users")
    )

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, v: str | list[float]) -> str | list[float]:
        if isinstance(v, str) and v not in PROFILES:
            raise ValueError(f"unknown profile {v!r}; known: {', '.join(PROFILES)}")
        if isinstance(v, list) and (len(v) != 24 or min(v) < 0 or sum(v) <= 0):
            raise ValueError("a profile list needs 24 non-negative hourly weights, not all zero")
        return v

    @field_validator("mix")
    @classmethod
    def _positive_weights(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("a persona needs at least one operation in its mix")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("mix weights must be non-negative and not all zero")
        return v

    def hourly_weights(self) -> list[float]:
        w = PROFILES[self.profile] if isinstance(self.profile, str) else self.profile
        total = sum(w)
        return [x / total for x in w]

    def denial_expected(self, op: str) -> bool:
        listed = isinstance(self.expect_denied, list) and op in self.expect_denied
        return self.expect_denied is True or listed


class EventSource(_Strict):
    name: str
    rate: float = Field(gt=0, description="events per second")
    topic: str | None = None

    _rate_limit = field_validator("rate")(_at_most(MAX_EVENT_RATE, "events/s", "lower the rate"))


FaultKind = Literal["warehouse_down", "broker_node_lost", "crm_latency", "network_latency", "region_lost"]


class Fault(_Strict):
    kind: FaultKind
    at: ClockTime
    until: ClockTime | None = None
    latency_ms: float = Field(0.0, ge=0)
    nodes: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _window(self) -> Fault:
        if self.until is not None and self.until <= self.at:
            raise ValueError("'until' must be after 'at'")
        if self.kind in ("crm_latency", "network_latency") and self.latency_ms <= 0:
            raise ValueError(f"a {self.kind} fault needs latency_ms > 0")
        return self


SlaMetric = Literal[
    "p50_ms", "p95_ms", "p99_ms", "max_ms", "error_rate", "availability", "cache_hit_rate",
    "freshness_p95_s", "freshness_max_s", "staleness_max_s", "entitlement_p95_ms",
]  # fmt: skip


class Sla(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # a NaN bound never fails

    name: str
    metric: SlaMetric
    operation: str | None = None
    max: float | None = None
    min: float | None = None
    # An SLA whose metric has no samples in a run is reported as "no data" and fails the gate: a check
    # that measured nothing must not pass silently. `optional: true` lets it pass with no data (for a
    # metric the run cannot measure yet); when it does have samples it is checked like any other.
    optional: bool = False

    @model_validator(mode="after")
    def _one_bound(self) -> Sla:
        if (self.max is None) == (self.min is None):
            raise ValueError("an SLA needs exactly one of 'max' or 'min'")
        return self


class FailoverStrategy(_Strict):
    name: str
    rto: Seconds
    rpo: Seconds


class Sweep(_Strict):
    ttls: list[Seconds] = [0.0, 60.0, 300.0, 900.0, 3600.0]
    zipf_s: list[float] = [0.8, 1.1, 1.4]


class Scenario(_Strict):
    name: str
    description: str = ""
    seed: int = Field(0, ge=0)  # numpy's generators take no negative seed
    start: ClockTime = 0.0
    duration: Seconds
    platform: PlatformConfig = PlatformConfig()
    operations: dict[str, Operation]
    personas: list[Persona]
    event_sources: list[EventSource] = []
    faults: list[Fault] = []
    slas: list[Sla] = []
    cost: CostParams = CostParams()
    failover: list[FailoverStrategy] = []
    sweep: Sweep | None = None

    @field_validator("operations", mode="before")
    @classmethod
    def _named_operations(cls, v: Any) -> Any:
        """An operation without `sql` or `use` is the catalogue's operation of the same name."""
        if not isinstance(v, Mapping):
            return v
        out = {}
        for name, op in v.items():
            if op is None:
                op = {}
            if isinstance(op, Mapping) and op.get("sql") is None and op.get("use") is None:
                op = {**op, "use": name}
            out[name] = op
        return out

    @field_validator("duration")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("duration must be positive")
        return _duration_limit(v)

    def total_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(field, message) for limits on the run as a whole: all users, all requests."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        users = sum(p.count for p in self.personas)
        if users > MAX_PERSONAS:
            problems.append(
                (("personas",), f"{users:,} simulated users in all is over the limit of {MAX_PERSONAS:,}")
            )
        requests = sum(p.count * p.requests_per_day for p in self.personas) * self.duration / 86_400
        if requests > MAX_SIMULATED_REQUESTS:
            problems.append(
                (
                    ("personas",),
                    f"about {requests:,.0f} requests over the run is over the limit of "
                    f"{MAX_SIMULATED_REQUESTS:,}; shorten the duration or lower count/requests_per_day",
                )
            )
        return problems

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Scenario:
        """A copy with `update` applied; a copy never escapes the limits a loaded scenario is held to
        (a run's --duration override goes through here)."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            problems = []
            if "duration" in update:
                try:
                    _duration_limit(copy.duration)
                except ValueError as e:
                    problems.append(f"duration: {e}")
            problems += [f"{_dotted(loc)}: {msg}" for loc, msg in copy.total_problems()]
            if problems:
                raise ScenarioError(problems)
        return copy

    @model_validator(mode="after")
    def _totals(self) -> Scenario:
        for loc, msg in self.total_problems():
            raise _RefError(loc, msg)
        return self

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        for i, p in enumerate(self.personas):
            for op in p.mix:
                if op not in self.operations:
                    raise _RefError(("personas", i, "mix", op), f"unknown operation {op!r}")
            if isinstance(p.expect_denied, list):
                for j, op in enumerate(p.expect_denied):
                    if op not in p.mix:
                        raise _RefError(
                            ("personas", i, "expect_denied", j), f"{op!r} is not in this persona's mix"
                        )
        for i, s in enumerate(self.slas):
            if s.operation is not None and s.operation not in self.operations:
                raise _RefError(("slas", i, "operation"), f"unknown operation {s.operation!r}")
        return self

    def denial_expected(self, persona: Persona, op: str) -> bool:
        """Whether a denial of `op` for `persona` is by design (not counted against availability)."""
        return self.operations[op].expect_denied or persona.denial_expected(op)

    def with_duration(self, seconds: float) -> Scenario:
        return self.model_copy(update={"duration": seconds})


def _duration_limit(v: float) -> float:
    if v > MAX_DURATION_S:
        raise ValueError(
            f"{v:,.0f} s is over the limit of {MAX_DURATION_S:,.0f} s ({MAX_DURATION_S / 86_400:.0f} days); "
            "simulate a representative day and scale the cost model"
        )
    return v


class _RefError(ValueError):
    def __init__(self, loc: tuple[str | int, ...], msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


class ScenarioError(TwinError, ValueError):
    """A scenario file is invalid; each problem names the file, line and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ScenarioMismatch(ScenarioError):
    """A valid scenario that does not fit the warehouse it runs on (a role no policy defines, a key
    table that is not there); `located` keeps each problem's field so a caller holding the file can
    add its line (`locate`)."""

    def __init__(self, located: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__([f"{_dotted(loc)}: {msg}" for loc, msg in located])
        self.located = located

    def locate(self, text: str, source: str) -> list[str]:
        try:
            _, lines = load_with_lines(text)
        except YamlSyntaxError:
            lines = {}
        return [f"{source}:{line_of(lines, loc)}: {_dotted(loc)}: {msg}" for loc, msg in self.located]


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    size = len(text.encode())
    if size > MAX_SCENARIO_BYTES:
        raise ScenarioError(
            [f"{source}: {size:,} bytes is over the {MAX_SCENARIO_BYTES:,}-byte limit for a scenario file"]
        )
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as e:
        raise ScenarioError([f"{source}: {e}"]) from e
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}: a scenario is a mapping of fields, got {type(data).__name__}"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(err["loc"])
            ctx = err.get("ctx") or {}
            inner = ctx.get("error")
            msg = err["msg"].removeprefix("Value error, ")
            if isinstance(inner, _RefError):
                loc, msg = inner.loc, inner.msg
            # pydantic adds the validator kind to union locs ('str', 'list[float]'); drop them
            loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("str",))))
            line = line_of(lines, loc)
            problems.append(f"{source}:{line}: {_dotted(loc)}: {msg}")
        raise ScenarioError(problems) from None


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_SCENARIO_BYTES:  # checked before reading: the file may be any size
        raise ScenarioError(
            [f"{p.name}: {size:,} bytes is over the {MAX_SCENARIO_BYTES:,}-byte limit for a scenario file"]
        )
    return parse_scenario(p.read_text(), source=str(p.name))


def find_scenario(name_or_path: str, search: Path | None = None) -> Path:
    """A path as given, or `scenarios/NAME.yaml` from the working directory, else a shipped scenario.

    The shipped ones are package data (`twin/scenarios`), so an installed twin finds them too."""
    p = Path(name_or_path)
    if p.exists():
        return p
    roots = [search] if search else []
    roots += [Path.cwd() / "scenarios", SHIPPED_SCENARIOS]
    for root in roots:
        for cand in (root / name_or_path, root / f"{name_or_path}.yaml"):
            if cand.exists():
                return cand
    raise FileNotFoundError(f"no scenario {name_or_path!r} (looked for a file and in scenarios/)")
