"""Synthetic event sources at the architecture's rates, rate-controlled and seeded.

Each source makes payloads of its topic's value model. A small share of events are injected duplicates
(a new event id, `dupof` naming the original) and late events (business time minutes in the past,
`late` set), so silver's dedup and ordering have something to do.

Entity ids (accounts, funds and their tickers, institutional clients) come from an `EntityIds`: by default
a self-contained synthetic universe, or, with `ids_from_fixtures(dir)`, the ids of a fixtures directory, so
streamed events join the accounts, funds and clients the warehouse was built from.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator

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


class EntityIds(BaseModel):
    """The ids synthetic events draw from. `tickers[i]` is the ticker of `funds[i]`; `currencies[i]`, if
    given, the currency of `accounts[i]` (balance updates use it)."""

    model_config = ConfigDict(frozen=True)

    accounts: tuple[str, ...]
    funds: tuple[str, ...]
    tickers: tuple[str, ...]
    clients: tuple[str, ...]
    currencies: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EntityIds:
        for name in ("accounts", "funds", "clients"):
            if not getattr(self, name):
                raise ValueError(f"no {name} to draw ids from")
        if len(self.tickers) != len(self.funds):
            raise ValueError("tickers must pair one to one with funds")
        if self.currencies is not None and len(self.currencies) != len(self.accounts):
            raise ValueError("currencies must pair one to one with accounts")
        return self


DEFAULT_IDS = EntityIds(
    accounts=tuple(account_id(i) for i in range(N_ACCOUNTS)),
    funds=tuple(fund_id(i) for i in range(N_FUNDS)),
    tickers=tuple(f"TKR{i:04d}" for i in range(N_FUNDS)),
    clients=tuple(client_id(i) for i in range(N_CLIENTS)),
)


def ids_from_fixtures(directory: Path) -> EntityIds:
    """The account, fund (with ticker) and institutional-client ids of a fixtures directory, in file
    order. Raises `twin.fixtures.FixtureError` (naming the file) if one is missing or corrupt."""
    from twin.fixtures import read_entity

    accounts = read_entity(directory, "accounts")
    funds = read_entity(directory, "funds")
    clients = read_entity(directory, "institutional_clients")
    return EntityIds(
        accounts=tuple(accounts.column("account_id").to_pylist()),
        currencies=tuple(accounts.column("currency").to_pylist()),
        funds=tuple(funds.column("fund_id").to_pylist()),
        tickers=tuple(funds.column("ticker").to_pylist()),
        clients=tuple(clients.column("client_id").to_pylist()),
    )


def _money(rng: random.Random, lo: float, hi: float) -> Decimal:
    return Decimal(f"{rng.uniform(lo, hi):.2f}")


def _position(rng: random.Random, n: int, now: datetime, ids: EntityIds = DEFAULT_IDS) -> Position:
    qty = _money(rng, 1, 10_000)
    return Position(
        account_id=rng.choice(ids.accounts),
        fund_id=rng.choice(ids.funds),
        quantity=qty,
        market_value=(qty * _money(rng, 5, 500)).quantize(Decimal("0.01")),
        as_of=now.date(),
    )


def _trade(rng: random.Random, n: int, now: datetime, ids: EntityIds = DEFAULT_IDS) -> Trade:
    return Trade(
        trade_id=f"TRD{n:010d}-{rng.randrange(1 << 30):08x}",
        account_id=rng.choice(ids.accounts),
        symbol=rng.choice(ids.tickers),
        side=rng.choice((Side.BUY, Side.SELL)),
        quantity=_money(rng, 1, 5_000),
        price=_money(rng, 5, 500),
        executed_at=now.replace(tzinfo=None),
    )


def _balance(rng: random.Random, n: int, now: datetime, ids: EntityIds = DEFAULT_IDS) -> BalanceUpdate:
    i = rng.randrange(len(ids.accounts))
    return BalanceUpdate(
        account_id=ids.accounts[i],
        balance=_money(rng, 0, 2_000_000),
        currency=ids.currencies[i] if ids.currencies else "USD",
        updated_at=now.replace(tzinfo=None),
    )


def _crm(rng: random.Random, n: int, now: datetime, ids: EntityIds = DEFAULT_IDS) -> CrmSignal:
    return CrmSignal(
        signal_id=f"SIG{n:010d}-{rng.randrange(1 << 30):08x}",
        client_id=rng.choice(ids.clients),
        kind=rng.choice(CRM_KINDS),
        score=round(rng.random(), 4),
        occurred_at=now.replace(tzinfo=None),
    )


def _nav(rng: random.Random, n: int, now: datetime, ids: EntityIds = DEFAULT_IDS) -> NavPoint:
    return NavPoint(
        fund_id=rng.choice(ids.funds),
        nav_date=now.date(),
        nav=_money(rng, 8, 300),
        aum=_money(rng, 1e7, 5e10),
    )


@dataclass(frozen=True)
class SyntheticSource:
    name: str
    topic: str
    rate: float  # events per second in the reference architecture
    make: Callable[..., BaseModel]  # (rng, n, now[, ids]) -> a value of the topic's model
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


def tick_sleep_s(start: float, sent: int, rate: float, tick_s: float, now: float) -> float:
    """How long a producer pacing `rate`/s by schedule sleeps after sending `sent` since `start`: until a
    tick's worth more is due (at most a tick), not just the next event. Waking per event (every 0.1 ms at
    10,000/s) cost the producer 3.6x the CPU and woke librdkafka's threads as often."""
    next_due = start + (sent + max(1.0, rate * tick_s)) / rate
    return max(0.0, min(tick_s, next_due - now))


def produce(
    producer: ContractProducer,
    source: SyntheticSource,
    *,
    rate: float | None = None,
    duration_s: float | None = None,
    count: int | None = None,
    seed: int = 0,
    ids: EntityIds | None = None,
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
    a slow tick is caught up by the next and the long-run rate is exact. Entity ids come from `ids`
    (default: the synthetic universe; `ids_from_fixtures(dir)` for a fixtures directory's).
    """
    if duration_s is None and count is None:
        raise ValueError("give duration_s or count")
    rate = rate or source.rate
    target = topic or source.topic
    total = count if count is not None else int(rate * (duration_s or 0))
    rng = random.Random(seed)
    recent: list[tuple[str, BaseModel, bool]] = []
    sent = dups = late = 0
    start = clock()
    while sent < total:
        due = min(total, int((clock() - start) * rate) + 1)
        while sent < due:
            now = datetime.now(UTC)
            if recent and rng.random() < dup_rate:
                original_id, value, was_late = rng.choice(recent)
                # A re-sent late event is still late: its business time has not moved.
                producer.send(target, value, dupof=original_id, late=was_late)
                dups += 1
            else:
                value = source.make(rng, sent, now, ids or DEFAULT_IDS)
                is_late = rng.random() < late_rate
                if is_late:
                    value = _shift_back(value, source.time_field, timedelta(minutes=rng.randint(1, 30)))
                    late += 1
                event = producer.send(target, value, late=is_late)
                if len(recent) < 1000:
                    recent.append((event.id, value, is_late))
                else:
                    recent[rng.randrange(1000)] = (event.id, value, is_late)
            sent += 1
        producer.poll()
        if progress:
            progress(sent)
        if sent < total:
            sleep(tick_sleep_s(start, sent, rate, tick_s, clock()))
    producer.flush()
    return ProduceReport(source.name, sent, dups, late, clock() - start)
