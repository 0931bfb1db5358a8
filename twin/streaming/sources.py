"""Synthetic event sources at the architecture's rates, rate-controlled and seeded.

Each source makes payloads of its topic's value model. A small share of events are injected duplicates
(a new event id, `dupof` naming the original) and late events (business time minutes in the past,
`late` set), so silver's dedup and ordering have something to do.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel

from twin.domain.entities import BalanceUpdate, CrmSignal, NavPoint, Position, Side, Trade
from twin.streaming.contracts.topics import TopicSpec
from twin.streaming.producer import ContractProducer

N_ACCOUNTS = 5_000
N_FUNDS = 200
N_CLIENTS = 300
CRM_KINDS = ("meeting_logged", "email_opened", "stage_change", "webinar_attended", "rfp_received")


def account_id(i: int) -> str:
    return f"ACC{i:06d}"


def fund_id(i: int) -> str:
    return f"FND{i:04d}"


def client_id(i: int) -> str:
    return f"INST{i:05d}"


def _money(rng: random.Random, lo: float, hi: float) -> Decimal:
    return Decimal(f"{rng.uniform(lo, hi):.2f}")


def _position(rng: random.Random, n: int, now: datetime) -> Position:
    qty = _money(rng, 1, 10_000)
    return Position(
        account_id=account_id(rng.randrange(N_ACCOUNTS)),
        fund_id=fund_id(rng.randrange(N_FUNDS)),
        quantity=qty,
        market_value=(qty * _money(rng, 5, 500)).quantize(Decimal("0.01")),
        as_of=now.date(),
    )


def _trade(rng: random.Random, n: int, now: datetime) -> Trade:
    return Trade(
        trade_id=f"TRD{n:010d}-{rng.randrange(1 << 30):08x}",
        account_id=account_id(rng.randrange(N_ACCOUNTS)),
        symbol=f"TKR{rng.randrange(N_FUNDS):04d}",
        side=rng.choice((Side.BUY, Side.SELL)),
        quantity=_money(rng, 1, 5_000),
        price=_money(rng, 5, 500),
        executed_at=now.replace(tzinfo=None),
    )


def _balance(rng: random.Random, n: int, now: datetime) -> BalanceUpdate:
    return BalanceUpdate(
        account_id=account_id(rng.randrange(N_ACCOUNTS)),
        balance=_money(rng, 0, 2_000_000),
        currency="USD",
        updated_at=now.replace(tzinfo=None),
    )


def _crm(rng: random.Random, n: int, now: datetime) -> CrmSignal:
    return CrmSignal(
        signal_id=f"SIG{n:010d}-{rng.randrange(1 << 30):08x}",
        client_id=client_id(rng.randrange(N_CLIENTS)),
        kind=rng.choice(CRM_KINDS),
        score=round(rng.random(), 4),
        occurred_at=now.replace(tzinfo=None),
    )


def _nav(rng: random.Random, n: int, now: datetime) -> NavPoint:
    return NavPoint(
        fund_id=fund_id(rng.randrange(N_FUNDS)),
        nav_date=now.date(),
        nav=_money(rng, 8, 300),
        aum=_money(rng, 1e7, 5e10),
    )


@dataclass(frozen=True)
class SyntheticSource:
    name: str
    topic: str
    rate: float  # events per second in the reference architecture
    make: Callable[[random.Random, int, datetime], BaseModel]
    time_field: str


SOURCES: dict[str, SyntheticSource] = {
    s.name: s
    for s in (
        SyntheticSource("aladdin", "aladdin.positions.cdc", 10_000, _position, "as_of"),
        SyntheticSource("trades", "asset-management.trades.execution", 2_000, _trade, "executed_at"),
        SyntheticSource("balances", "cash.balances", 500, _balance, "updated_at"),
        SyntheticSource("crm", "crm.signals", 100, _crm, "occurred_at"),
        # Not in the architecture's rate table (NAVs strike per fund a few times a day); a trickle.
        SyntheticSource("nav", "asset-management.nav.intraday", 10, _nav, "nav_date"),
    )
}
ARCHITECTURE_RATE = sum(s.rate for s in SOURCES.values() if s.name != "nav")  # 12,600 events/s


def _shift_back(value: BaseModel, field: str, by: timedelta) -> BaseModel:
    current = getattr(value, field)
    if isinstance(current, datetime):
        return value.model_copy(update={field: current - by})
    if isinstance(current, date):
        return value.model_copy(update={field: current - timedelta(days=1)})
    return value


@dataclass
class ProduceReport:
    source: str
    sent: int
    duplicates: int
    late: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def produce(
    producer: ContractProducer,
    source: SyntheticSource,
    *,
    rate: float | None = None,
    duration_s: float | None = None,
    count: int | None = None,
    seed: int = 0,
    topic: str | TopicSpec | None = None,
    dup_rate: float = 0.002,
    late_rate: float = 0.002,
    tick_s: float = 0.005,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ProduceReport:
    """Send events at `rate`/s for `duration_s` seconds (or `count` events), then flush.

    Rate control is by schedule, not by sleep per event: each tick sends what the schedule says is due, so
    a slow tick is caught up by the next and the long-run rate is exact.
    """
    if duration_s is None and count is None:
        raise ValueError("give duration_s or count")
    rate = rate or source.rate
    target = topic or source.topic
    total = count if count is not None else int(rate * (duration_s or 0))
    rng = random.Random(seed)
    recent: list[tuple[str, BaseModel]] = []
    sent = dups = late = 0
    start = clock()
    while sent < total:
        due = min(total, int((clock() - start) * rate) + 1)
        while sent < due:
            now = datetime.now(UTC)
            if recent and rng.random() < dup_rate:
                original_id, value = rng.choice(recent)
                producer.send(target, value, dupof=original_id)
                dups += 1
            else:
                value = source.make(rng, sent, now)
                is_late = rng.random() < late_rate
                if is_late:
                    value = _shift_back(value, source.time_field, timedelta(minutes=rng.randint(1, 30)))
                    late += 1
                event = producer.send(target, value, late=is_late)
                if len(recent) < 1000:
                    recent.append((event.id, value))
                else:
                    recent[rng.randrange(1000)] = (event.id, value)
            sent += 1
        producer.poll()
        if progress:
            progress(sent)
        if sent < total:
            sleep(max(0.0, min(tick_s, start + sent / rate - clock())))
    producer.flush()
    return ProduceReport(source.name, sent, dups, late, clock() - start)
