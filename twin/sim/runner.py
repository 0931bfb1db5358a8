"""The scenario runner: SimPy processes for personas, event sources, gold refreshes and faults.

Time is simulated seconds since the scenario start. Each persona call runs the platform's real code
(through the platform port) at the moment the simulated request reaches the warehouse; virtual time
then advances by a service time sampled from the run's calibration (or by the call's own measured
time with `measured=True`), plus a modelled network latency.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import itertools
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from twin.cost.monitor import MonitorMeter, parse_resource_monitor
from twin.platform.cached import CachedQueries
from twin.platform.errors import Denied, Failed
from twin.platform.port import PlatformPort
from twin.platform.principal import Principal
from twin.sim.calibration import Calibration, machine_label
from twin.sim.faults import FaultState, windows
from twin.sim.metrics import Recorder
from twin.sim.scenario import FailoverStrategy, KeySpec, Scenario, ScenarioMismatch
from twin.sim.transport import CountingTransport, EventTransport

REFRESH_OP = "gold_refresh"
CACHE_OP = "cache_lookup"
DEFAULT_FAILOVER = FailoverStrategy(name="active_passive", rto=3600.0, rpo=21600.0)


@dataclass(frozen=True, slots=True)
class Served:
    rows: int
    as_of: float  # simulated time the gold data reflects
    digest: int = 0


@dataclass
class RunOptions:
    measured: bool = False
    calibration: Calibration | None = None
    transport: EventTransport | None = None
    realtime_speed: float | None = None  # live: simulated seconds per wall second
    progress: Callable[[float, float], None] | None = None
    strategy: FailoverStrategy | None = None
    # Execute each distinct (caller scope, query, parameters) once per gold version and reuse its
    # result on later cache misses: the answer cannot differ, only the twin's wall time does.
    reuse_results: bool = False


@dataclass
class RunResult:
    scenario: Scenario
    recorder: Recorder
    calibration: Calibration
    cache_stats: dict[str, Any]
    events: dict[str, Any]
    refreshes: dict[str, int]
    failover: dict[str, Any] | None
    platform_name: str
    mode: str
    wall: dict[str, float] = field(default_factory=dict)
    key_counts: dict[str, int] = field(default_factory=dict)  # distinct keys per keyed operation
    # per user: [requests, warehouse calls], for chargeback ("what does this client cost us")
    usage: dict[str, list[int]] = field(default_factory=dict)
    monitor: dict[str, Any] | None = None  # the resource monitor's credits and notifications
    requested_speed: float | None = None  # live: simulated seconds per wall second asked for


class Slots:
    """Identical servers taken first come, first served: API workers, warehouse slots.

    `simpy.Resource` with the free case made cheap: taking a free slot schedules no event (a granted
    `Resource.request()` and its release are two trips through the event queue). Only a request that
    must wait gets an event, succeeded when a slot is handed to it.
    """

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = capacity
        self.waiting: collections.deque[simpy.Event] = collections.deque()

    def take(self) -> simpy.Event | None:
        """None when a slot was free and is now the caller's; otherwise an event to wait for."""
        if self.free:
            self.free -= 1
            return None
        ev = self.env.event()
        self.waiting.append(ev)
        return ev

    def give_back(self) -> None:
        if self.waiting:
            self.waiting.popleft().succeed()  # the slot passes straight to the next in line
        else:
            self.free += 1


class KeyPicker:
    """Picks a key with Zipf (or uniform) popularity; ranks are shuffled with the seed so the most
    popular key is not simply the smallest id."""

    def __init__(self, keys: list[Any], spec: KeySpec, rng: random.Random) -> None:
        self.keys = list(keys)
        rng.shuffle(self.keys)
        if spec.popularity == "zipf":
            weights = [1.0 / (i + 1) ** spec.zipf_s for i in range(len(self.keys))]
        else:
            weights = [1.0] * len(self.keys)
        self.cum = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> Any:
        i = bisect.bisect_right(self.cum, rng.random() * self.cum[-1])
        return self.keys[min(i, len(self.keys) - 1)]


def sample_keys(scenario: Scenario, platform: PlatformPort) -> dict[str, KeyPicker]:
    rng = random.Random(scenario.seed ^ 0x5EED)
    out = {}
    for name, op in sorted(scenario.operations.items()):
        if op.key is not None:
            try:
                keys = platform.sample_keys(op.key.table, op.key.column, op.key.limit)
            except Exception as e:  # any adapter's "no such table/column": the scenario names a key source
                why = (str(e).splitlines() or [type(e).__name__])[0]
                source = f"{op.key.table}.{op.key.column}"
                raise ScenarioMismatch(
                    [(("operations", name, "key"), f"cannot sample keys from {source}: {why}")]
                ) from e
            out[name] = KeyPicker(keys, op.key, rng)
    return out


def _callers(scenario: Scenario) -> dict[str, Principal]:
    """One representative caller per operation, for calibration: the first persona that uses it."""
    out: dict[str, Principal] = {}
    for p in scenario.personas:
        for op in p.mix:
            out.setdefault(op, Principal.of(f"{p.name}-0000", p.role, p.department, p.secondary_roles))
    return out


def calibrate(scenario: Scenario, platform: PlatformPort, pickers: dict[str, KeyPicker]) -> Calibration:
    rng = random.Random(scenario.seed ^ 0xCA1)
    n = scenario.platform.calibration_samples
    samples: dict[str, list[float]] = {}
    for op_name, caller in sorted(_callers(scenario).items()):
        op = scenario.operations[op_name]
        times = []
        for i in range(n + 1):
            params = [pickers[op_name].pick(rng)] if op_name in pickers else []
            t0 = time.perf_counter()
            with contextlib.suppress(Denied, Failed):
                platform.query(caller, op.sql, params)
            if i:  # the first call warms DuckDB's caches and is not representative
                times.append(time.perf_counter() - t0)
        samples[op_name] = times
    samples[REFRESH_OP] = [platform.refresh_gold()]
    cache = CachedQueries(platform)  # the cost of the service's cache, not of a copy of it
    scope = platform.cache_scope(Principal.of("calibration", "CALIBRATION"))
    lookups = []
    for i in range(200):
        t0 = time.perf_counter()
        key = cache.key(scope, "select 1", [i % 20])
        if cache.lookup(key) is None:
            cache.store(key, i)
        lookups.append(time.perf_counter() - t0)
    samples[CACHE_OP] = lookups[::10]
    return Calibration(machine=machine_label(), samples=samples)


def _meter(scenario: Scenario) -> MonitorMeter | None:
    c = scenario.cost
    if c.resource_monitor is None:
        return None
    return MonitorMeter(
        parse_resource_monitor(c.resource_monitor),
        credits_per_hour=c.credits_per_hour,
        min_billing_s=c.min_billing_s,
        auto_suspend_s=c.auto_suspend_s,
        start_clock_s=scenario.start,
    )


class _Sim:
    def __init__(
        self,
        scenario: Scenario,
        platform: PlatformPort,
        pickers: dict[str, KeyPicker],
        calibration: Calibration,
        opts: RunOptions,
    ) -> None:
        self.s = scenario
        self.platform = platform
        self.pickers = pickers
        self.cal = calibration
        self.opts = opts
        if opts.realtime_speed:
            self.env: simpy.Environment = simpy.RealtimeEnvironment(
                factor=1.0 / opts.realtime_speed, strict=False
            )
        else:
            self.env = simpy.Environment()
        cfg = scenario.platform
        self.api = Slots(self.env, cfg.api_workers)
        self.wh = Slots(self.env, cfg.warehouse_slots)
        # the platform service's own result cache, on the simulation's virtual clock
        self.cache = CachedQueries(
            platform,
            ttl_s=cfg.cache.ttl,
            max_entries=cfg.cache.max_entries,
            clock=lambda: self.env.now,
            stale_fallback=cfg.cache.stale_fallback,
        )
        self.faults = FaultState(windows(scenario))
        self.rng = random.Random(scenario.seed)
        self.rec = Recorder(bucket_s=60.0 if scenario.duration <= 6 * 3600 else 300.0)
        self.service = {op: self.cal.sampler(op) for op in scenario.operations if op in self.cal.samples}
        self.cache_time = self.cal.sampler(CACHE_OP)
        self.refresh_time = self.cal.sampler(REFRESH_OP)
        self.transport = opts.transport or CountingTransport()
        self.gold_as_of = 0.0
        self.lag_s = cfg.ingest_latency
        self.refreshes = {"done": 0, "failed": 0}
        self.events = {"emitted": 0, "accepted": 0, "failed": 0, "max_lag_s": cfg.ingest_latency}
        self.per_source: dict[str, int] = {}
        self.platform_s = 0.0  # wall seconds spent inside real platform calls
        self.platform_cpu_s = 0.0  # and this process's CPU seconds there: steadier on a busy machine
        self.strategy = opts.strategy
        region = self.faults.first("region_lost")
        if region is not None and self.strategy is None:
            self.strategy = scenario.failover[0] if scenario.failover else DEFAULT_FAILOVER
        self.region = region
        # read once: each request would otherwise look them up through the scenario's models
        self._net_mean_ms = cfg.network.mean_ms
        self._net_jitter_ms = cfg.network.jitter_ms
        self._cached = cfg.cache.enabled
        self._latency_faults = any(w.kind in ("network_latency", "crm_latency") for w in self.faults.ws)
        self.monitor = _meter(scenario)
        self._outages = (
            region is not None or self.faults.first("warehouse_down") is not None or self.monitor is not None
        )
        self._keys: dict[tuple[Any, ...], str] = {}
        self._reused: dict[tuple[str, int], Any] = {}
        self._scopes: dict[Any, Any] = {}
        self.real_calls = 0
        self.usage: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])

    def _key(self, scope: Any, op_name: str, sql: str, params: list[Any]) -> str:
        # hashing the key is the simulator's hottest line; the same inputs always give the same key
        memo = (id(scope), op_name, *params)  # scopes are interned per scope in persona()
        key = self._keys.get(memo)
        if key is None:
            key = self._keys[memo] = self.cache.key(scope, sql, params)
        return key

    # -- fault helpers -------------------------------------------------------------------------

    def region_down(self, t: float) -> bool:
        r = self.region
        return r is not None and self.strategy is not None and r.start <= t < r.start + self.strategy.rto

    def warehouse_down(self, t: float) -> bool:
        if self.monitor is not None and self.monitor.suspended(t):
            return True  # a resource monitor suspended it: down until its interval resets
        return self.faults.on("warehouse_down", t) or self.region_down(t)

    # -- processes -----------------------------------------------------------------------------

    def persona(self, p_idx: int, idx: int) -> Generator[simpy.Event, Any, None]:
        s, env, rng = self.s, self.env, self.rng
        p = s.personas[p_idx]
        caller = Principal.of(f"{p.name}-{idx:04d}", p.role, p.department, p.secondary_roles)
        scope = self.platform.cache_scope(caller)
        # one scope object per distinct scope, so the key memo can use its identity (pydantic
        # equality is slow on the hot path)
        scope = self._scopes.setdefault(scope, scope)
        w = p.hourly_weights()
        wmax = max(w)
        lam_max = p.requests_per_day * wmax / 3600.0
        ops = list(p.mix)
        expected = {o: s.denial_expected(p, o) for o in ops}
        cum = list(itertools.accumulate(p.mix[o] for o in ops))
        next_t = env.now
        while True:
            while True:  # non-homogeneous Poisson arrivals by thinning
                next_t += rng.expovariate(lam_max)
                if next_t >= s.duration:
                    return
                hour = int(((s.start + next_t) % 86400) // 3600)
                if rng.random() * wmax < w[hour]:
                    break
            if next_t > env.now:
                yield env.timeout(next_t - env.now)
            op = ops[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(ops) - 1)]
            yield from self.request(caller, scope, op, expect_denied=expected[op])
            next_t = max(next_t, env.now + p.think_time)

    def request(
        self, caller: Principal, scope: Any, op_name: str, *, expect_denied: bool = False
    ) -> Generator[simpy.Event, Any, None]:
        env, rng, rec = self.env, self.rng, self.rec
        t0 = env.now
        op = self.s.operations[op_name]
        used = self.usage[caller.user]
        used[0] += 1
        picker = self.pickers.get(op_name)
        params = [picker.pick(rng)] if picker is not None else []
        net_ms = self._net_mean_ms + (rng.random() * 2 - 1) * self._net_jitter_ms
        if self._latency_faults:
            net_ms += self.faults.extra_latency_ms("network_latency", t0)
            if "crm" in op.depends_on:
                net_ms += self.faults.extra_latency_ms("crm_latency", t0)
        net_s = max(0.0, net_ms) / 1000.0
        if self.region is not None and self.region_down(t0):
            yield env.timeout(net_s)
            rec.error(op_name, env.now)
            return
        cached = self._cached
        wait = self.api.take()
        if wait is not None:
            yield wait
        try:
            key = self._key(scope, op_name, op.sql, params) if cached else ""
            if cached:
                rec.keys.append((env.now, key))
                lookup_s = self.cache_time(rng)
                found = self.cache.lookup(key)
                if found is not None:
                    # answered from the cache: lookup and the network back, as one step of time
                    yield env.timeout(lookup_s + net_s)
                    now = env.now
                    rec.request(op_name, now, now - t0, hit=True)
                    rec.served_age(now - found.value.as_of, stale=False)
                    rec.rows_seen[(caller.role, op_name)].add(found.value.digest)
                    return
                yield env.timeout(lookup_s)
            if self._outages and self.warehouse_down(env.now):
                stale = self.cache.fallback(key) if cached else None
                yield env.timeout(net_s)
                if stale is None:
                    rec.error(op_name, env.now)
                else:
                    rec.ops[op_name].stale += 1
                    rec.request(op_name, env.now, env.now - t0, hit=True)
                    rec.served_age(env.now - stale.value.as_of, stale=True)
                return
            wait = self.wh.take()
            if wait is not None:
                yield wait
            try:
                w0, c0 = time.perf_counter(), time.process_time()
                # calibrated refreshes do not touch the data; measured ones do, so they start a version
                version = self.refreshes["done"] if self.opts.measured else 0
                memo = (self._key(scope, op_name, op.sql, params), version)
                failure: Denied | Failed | None = None
                try:
                    outcome = self._reused.get(memo) if self.opts.reuse_results else None
                    if outcome is None:
                        outcome = self.platform.query(caller, op.sql, params)
                        self.real_calls += 1
                        if self.opts.reuse_results:
                            self._reused[memo] = outcome
                except (Denied, Failed) as e:
                    self.real_calls += 1
                    failure = e
                # charged before any yield: other processes run while this one waits in virtual time
                self.platform_s += time.perf_counter() - w0
                self.platform_cpu_s += time.process_time() - c0
                if failure is not None:
                    yield env.timeout(net_s)
                    rec.error(op_name, env.now, denied=isinstance(failure, Denied), expected=expect_denied)
                    return
                assert outcome is not None  # a failure returned above
                service = outcome.duration_s if self.opts.measured else self.service[op_name](rng)
                rec.misses_at.append((env.now, service))
                used[1] += 1
                if self.monitor is not None:  # metered at production query seconds, like the bill
                    self.monitor.call(env.now, self.s.cost.seconds_per_query)
                yield env.timeout(service)
            finally:
                self.wh.give_back()
            assert outcome is not None  # a failure returned above
            value = Served(outcome.rows, self.gold_as_of, outcome.digest)
            if cached:
                self.cache.store(key, value)
        finally:
            self.api.give_back()
        yield env.timeout(net_s)
        now = env.now
        rec.request(op_name, now, now - t0, hit=False)
        rec.served_age(now - value.as_of, stale=False)
        rec.rows_seen[(caller.role, op_name)].add(value.digest)

    def refresher(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        every = self.s.platform.gold_refresh_every
        while True:
            yield env.timeout(every)
            if self.warehouse_down(env.now):
                self.refreshes["failed"] += 1
                continue
            wait = self.wh.take()
            if wait is not None:
                yield wait
            try:
                cutoff = env.now - self.lag_s
                if self.opts.measured:
                    w0 = time.perf_counter()
                    took = self.platform.refresh_gold()
                    self.platform_s += time.perf_counter() - w0
                else:
                    took = self.refresh_time(self.rng)
                yield env.timeout(took)
            finally:
                self.wh.give_back()
            self.gold_as_of = max(self.gold_as_of, cutoff)
            self.refreshes["done"] += 1

    def sources(self) -> Generator[simpy.Event, Any, None]:
        """Event sources aggregated per simulated second, feeding a backlog the brokers drain."""
        import numpy as np

        env, cfg = self.env, self.s.platform
        srcs = self.s.event_sources
        noise = np.random.default_rng(self.s.seed ^ 0xE7E)
        rates = np.array([src.rate for src in srcs])
        backlog = 0.0
        min_isr = min(2, cfg.broker_nodes)
        block: list[list[int]] = []
        # this loop runs once per simulated second: what cannot change during the run is read once
        emit, events, per_source = self.transport.emit, self.events, self.per_source
        named = [(src.name, src.topic) for src in srcs]
        broker_faults = self.region is not None or self.faults.first("broker_node_lost") is not None
        nodes_up = cfg.broker_nodes
        capacity = nodes_up * cfg.ingest_capacity_per_node
        while env.now < self.s.duration:
            if not block:  # Poisson counts drawn 3,600 seconds at a time
                block = noise.poisson(rates, size=(3600, len(srcs))).tolist()
                block.reverse()
            counts = block.pop()
            t = env.now
            if broker_faults:
                nodes_up = max(0, cfg.broker_nodes - self.faults.nodes_lost(t))
                if self.region_down(t):
                    nodes_up = 0
                capacity = nodes_up * cfg.ingest_capacity_per_node
            emitted = sum(counts)
            events["emitted"] += emitted
            if nodes_up < min_isr:  # acks=all cannot be satisfied: producers get errors
                events["failed"] += emitted
            else:
                accepted_now = 0
                for (name, topic), n in zip(named, counts, strict=True):
                    accepted = emit(name, topic, n, t)
                    per_source[name] = per_source.get(name, 0) + accepted
                    accepted_now += accepted
                events["accepted"] += accepted_now
                backlog += accepted_now  # whole counts: the float sum is exact either way
            backlog -= min(backlog, capacity)
            self.lag_s = cfg.ingest_latency + (backlog / capacity if capacity else 0.0)
            if self.lag_s > self.events["max_lag_s"]:
                self.events["max_lag_s"] = self.lag_s
            yield env.timeout(1.0)

    def region_failover(self) -> Generator[simpy.Event, Any, None]:
        assert self.region is not None and self.strategy is not None
        yield self.env.timeout(self.region.start)
        self.cache.invalidate()  # the region's cache goes with it
        yield self.env.timeout(self.strategy.rto)
        # the standby comes up with data as of its last replication point
        self.gold_as_of = min(self.gold_as_of, self.region.start - self.strategy.rpo)

    def run(self) -> None:
        env, s = self.env, self.s
        for p_idx, p in enumerate(s.personas):
            for i in range(p.count):
                env.process(self.persona(p_idx, i))
        env.process(self.refresher())
        if s.event_sources:
            env.process(self.sources())
        if self.region is not None:
            env.process(self.region_failover())
        step = max(1.0, s.duration / 100)
        t = 0.0
        while t < s.duration:
            t = min(s.duration, t + step)
            env.run(until=t)
            if self.opts.progress:
                self.opts.progress(t, s.duration)


def run_scenario(scenario: Scenario, platform: PlatformPort, opts: RunOptions | None = None) -> RunResult:
    opts = opts or RunOptions()
    wall0 = time.perf_counter()
    pickers = sample_keys(scenario, platform)
    calibration = opts.calibration or calibrate(scenario, platform, pickers)
    missing = [op for op in scenario.operations if op not in calibration.samples]
    if missing and not opts.measured:
        raise ValueError(f"calibration has no samples for: {', '.join(missing)}")
    # a fresh draw of key ranks per run from the seed, independent of calibration's draws
    pickers = sample_keys(scenario, platform)
    sim = _Sim(scenario, platform, pickers, calibration, opts)
    sim_wall0 = time.perf_counter()
    sim.run()
    sim_wall = time.perf_counter() - sim_wall0
    failover = None
    if sim.region is not None and sim.strategy is not None:
        rate = sum(src.rate for src in scenario.event_sources)
        failover = {
            "strategy": sim.strategy.name,
            "rto_s": sim.strategy.rto,
            "rpo_s": sim.strategy.rpo,
            "region_lost_at_s": sim.region.start,
            # data written in the last RPO before the loss is gone, whether or not the run covers it
            "data_loss_window_s": sim.strategy.rpo,
            "events_lost": round(rate * sim.strategy.rpo),
        }
    events: dict[str, Any] = dict(sim.events)
    events["per_source"] = dict(sorted(sim.per_source.items()))
    events["max_lag_s"] = round(events["max_lag_s"], 3)
    stats = sim.cache.stats
    return RunResult(
        scenario=scenario,
        recorder=sim.rec,
        calibration=calibration,
        cache_stats={**stats.model_dump(), "hit_rate": round(stats.hit_rate, 4)},
        events=events,
        refreshes=sim.refreshes,
        failover=failover,
        platform_name=platform.name,
        mode="live" if opts.realtime_speed else "sim",
        key_counts={op: len(p.keys) for op, p in sorted(pickers.items())},
        usage=dict(sorted(sim.usage.items())),
        monitor=_monitor_summary(sim),
        requested_speed=opts.realtime_speed,
        wall={
            "total_s": round(time.perf_counter() - wall0, 3),
            "simulation_s": round(sim_wall, 3),
            "platform_s": round(sim.platform_s, 3),
            "platform_cpu_s": round(sim.platform_cpu_s, 3),
            "platform_calls": sim.real_calls,
            "simulated_s_per_wall_s": round(scenario.duration / sim_wall, 1) if sim_wall else 0.0,
        },
    )


def _monitor_summary(sim: _Sim) -> dict[str, Any] | None:
    if sim.monitor is None:
        return None
    sim.monitor.advance(sim.s.duration)  # credits of the last run's tail inside the window
    return sim.monitor.summary()
