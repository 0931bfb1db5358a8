"""Synthetic sources drawing entity ids from a fixtures directory (`ids_from_fixtures`,
`twin produce --fixtures`), with the self-contained synthetic ids as the default."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.streaming.memory_setup import memory_broker
from twin.cli.main import app
from twin.fixtures import FixtureError, generate, read_entity
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import DEFAULT_IDS, SOURCES, EntityIds, ids_from_fixtures, produce

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def fixtures_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fixtures")
    generate(out, scale=0.002, seed=7)
    return out


def _column(directory: Path, entity: str, name: str) -> list[Any]:
    return read_entity(directory, entity).column(name).to_pylist()


def test_ids_from_fixtures_are_the_fixture_entities(fixtures_dir: Path) -> None:
    ids = ids_from_fixtures(fixtures_dir)
    assert ids.accounts == tuple(_column(fixtures_dir, "accounts", "account_id"))
    assert ids.tickers == tuple(_column(fixtures_dir, "funds", "ticker"))
    assert ids.clients == tuple(_column(fixtures_dir, "institutional_clients", "client_id"))
    assert not set(ids.accounts) & set(DEFAULT_IDS.accounts)  # the two universes really differ


def test_every_source_draws_only_fixture_ids(fixtures_dir: Path) -> None:
    ids = ids_from_fixtures(fixtures_dir)
    currency = dict(zip(ids.accounts, ids.currencies or (), strict=True))
    rng = random.Random(3)
    for name, source in SOURCES.items():
        for n in range(300):
            v = source.make(rng, n, NOW, ids)
            if hasattr(v, "account_id"):
                assert v.account_id in currency, (name, v)
            if name == "trades":
                assert v.symbol in ids.tickers
            if name == "balances":
                assert v.currency == currency[v.account_id]
            if hasattr(v, "fund_id"):
                assert v.fund_id in ids.funds
            if hasattr(v, "client_id"):
                assert v.client_id in ids.clients


def test_produce_with_ids_and_late_duplicates_stay_late(fixtures_dir: Path) -> None:
    ids = ids_from_fixtures(fixtures_dir)
    broker = memory_broker()
    sent: list[tuple[Any, dict[str, Any]]] = []
    inner = ContractProducer(broker.producer(), source="test")

    class Recording:
        def send(self, target: Any, value: Any, **kw: Any) -> Any:
            sent.append((value, kw))
            return inner.send(target, value, **kw)

        def poll(self) -> None:
            inner.poll()

        def flush(self) -> None:
            inner.flush()

    report = produce(
        Recording(),  # type: ignore[arg-type]
        SOURCES["trades"],
        rate=1e9,
        count=2000,
        seed=5,
        ids=ids,
        dup_rate=0.05,
        late_rate=0.05,
    )
    assert report.sent == len(sent) == 2000
    assert {v.account_id for v, _ in sent} <= set(ids.accounts)
    late_ids = {v.trade_id for v, kw in sent if kw.get("late") and not kw.get("dupof")}
    dups_of_late = [(v, kw) for v, kw in sent if kw.get("dupof") and v.trade_id in late_ids]
    assert dups_of_late and all(kw["late"] for _, kw in dups_of_late)


def test_default_ids_are_self_contained_and_deterministic() -> None:
    a = [SOURCES["trades"].make(random.Random(9), n, NOW) for n in range(50)]
    b = [SOURCES["trades"].make(random.Random(9), n, NOW, DEFAULT_IDS) for n in range(50)]
    assert a == b
    assert {t.account_id for t in a} <= set(DEFAULT_IDS.accounts)


def test_inconsistent_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="tickers"):
        EntityIds(accounts=("A",), funds=("F1", "F2"), tickers=("T1",), clients=("C",))
    with pytest.raises(ValueError, match="no accounts"):
        EntityIds(accounts=(), funds=("F",), tickers=("T",), clients=("C",))


def test_missing_fixture_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match=r"accounts\.parquet"):
        ids_from_fixtures(tmp_path)


def test_produce_cli_rejects_a_bad_fixtures_dir(tmp_path: Path, twin_home: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["produce", "trades", "--fixtures", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such directory" in missing.output
    empty = runner.invoke(app, ["produce", "trades", "--fixtures", str(tmp_path)])
    assert empty.exit_code == 2 and "accounts.parquet" in empty.output
    assert "Traceback" not in empty.output
