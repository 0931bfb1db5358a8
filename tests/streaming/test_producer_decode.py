"""Producing under a contract, and decoding batches into bronze rows with exact reasons for rejects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from tests.streaming.memory_setup import memory_broker
from twin.domain.entities import Trade
from twin.streaming.contracts.topics import topic
from twin.streaming.decode import META_COLUMNS, BatchDecoder
from twin.streaming.envelope import CloudEvent
from twin.streaming.port import Record
from twin.streaming.producer import ContractProducer, SchemaViolation

TRADES = "asset-management.trades.execution"


def _trade(i: int) -> dict:
    return {
        "trade_id": f"T{i}",
        "account_id": f"ACC{i % 5}",
        "symbol": "TKR0001",
        "side": "BUY" if i % 2 else "SELL",
        "quantity": f"{i + 1}.5",
        "price": "101.25",
        "executed_at": datetime(2026, 11, 22, 9, 30, i % 60),
    }


def _records(n: int) -> tuple[list[Record], ContractProducer]:
    broker = memory_broker()
    producer = ContractProducer(broker.producer(), source="test")
    for i in range(n):
        producer.send(TRADES, _trade(i))
    producer.flush()
    consumer = broker.consumer("t")
    consumer.subscribe([TRADES])
    out: list[Record] = []
    while batch := consumer.consume(1000, 0):
        out += batch
    return out, producer


def test_producer_wraps_in_cloudevents_keyed_by_entity_id() -> None:
    records, producer = _records(3)
    assert producer.sent == producer.delivered == 3
    for r in records:
        event = CloudEvent.model_validate_json(r.value)
        assert event.specversion == "1.0" and event.source == "test" and event.type == f"twin.{TRADES}"
        assert r.key == event.subject.encode() == event.data["trade_id"].encode()
        assert event.dataschema == f"{TRADES}-value/versions/1"


def test_producer_refuses_a_payload_that_fails_the_topic_schema() -> None:
    broker = memory_broker()
    producer = ContractProducer(broker.producer(), source="test")
    bad = _trade(1) | {"side": "HOLD"}
    with pytest.raises(SchemaViolation, match="side"):
        producer.send(TRADES, bad)
    missing = {k: v for k, v in _trade(1).items() if k != "price"}
    with pytest.raises(SchemaViolation, match="price"):
        producer.send(TRADES, missing)
    assert producer.sent == 0
    assert broker.admin().end_offsets([]) == {}


def test_fast_path_decodes_to_bronze_columns_exactly() -> None:
    records, _ = _records(50)
    decoded = BatchDecoder(topic(TRADES)).decode(records)
    assert not decoded.slow_path and not decoded.rejected
    assert decoded.table.column_names == [*Trade.model_fields, *META_COLUMNS]
    rows = {r["trade_id"]: r for r in decoded.table.to_pylist()}
    assert len(rows) == 50
    assert rows["T7"]["quantity"] == Decimal("8.5") and rows["T7"]["side"] == "BUY"
    assert rows["T7"]["executed_at"] == datetime(2026, 11, 22, 9, 30, 7)
    first = CloudEvent.model_validate_json(records[0].value)
    got = decoded.table.to_pylist()[0]
    assert got["_event_id"] == first.id and got["_late"] is False and got["_dup_of"] is None
    assert got["_emitted_at"] == first.time.astimezone(UTC).replace(tzinfo=None)
    assert decoded.offsets.to_pylist() == [r.offset for r in records]


def _mutate(value: bytes, **data: object) -> bytes:
    doc = json.loads(value)
    doc["data"].update(data)
    return json.dumps(doc).encode()


def test_bad_messages_are_rejected_one_by_one_with_reasons_and_the_rest_land() -> None:
    records, _ = _records(10)
    r = records[0]
    bad = [
        Record(r.topic, 0, 1000, b"k", b"{not json", 0),
        Record(r.topic, 0, 1001, b"k", _mutate(r.value, side="HOLD"), 0),
        Record(r.topic, 0, 1002, b"k", _mutate(r.value, price="1.123456789"), 0),
        Record(r.topic, 0, 1003, b"k", None, 0),
        Record(r.topic, 0, 1004, b"k", _mutate(r.value, extra_field=1), 0),
    ]
    decoded = BatchDecoder(topic(TRADES)).decode(records[:5] + bad + records[5:])
    assert decoded.slow_path
    assert decoded.table.num_rows == 10
    assert sorted(decoded.offsets.to_pylist()) == sorted(x.offset for x in records)
    reasons = {rec.offset: why for rec, why in decoded.rejected}
    assert set(reasons) == {1000, 1001, 1002, 1003, 1004}
    assert reasons[1000].startswith("malformed JSON")
    assert "side" in reasons[1001] and reasons[1001].startswith("schema")
    assert reasons[1002].startswith("bronze") and "data loss" in reasons[1002]
    assert "tombstone" in reasons[1003]
    assert "extra_field" in reasons[1004]


def test_a_number_where_the_contract_allows_it_takes_the_slow_path_and_lands() -> None:
    # JSON Schema lets a decimal be a number; the fast reader expects strings, the contract decides.
    records, _ = _records(2)
    r = records[0]
    odd = Record(r.topic, 0, 50, b"k", _mutate(r.value, quantity=3.25), 0)
    decoded = BatchDecoder(topic(TRADES)).decode([odd, records[1]])
    assert decoded.slow_path and not decoded.rejected
    assert decoded.table.column("quantity").to_pylist()[0] == Decimal("3.25")


def test_bronze_types_match_the_fixture_files_decimal_scales() -> None:
    from twin.domain.entities import BalanceUpdate, Position
    from twin.streaming.decode import bronze_schema

    trade = bronze_schema(Trade)
    assert trade.field("price").type == pa.decimal128(18, 4)
    assert trade.field("executed_at").type == pa.timestamp("us")
    assert bronze_schema(Position).field("market_value").type == pa.decimal128(18, 2)
    assert bronze_schema(Position).field("as_of").type == pa.date32()
    assert bronze_schema(BalanceUpdate).field("balance").type == pa.decimal128(18, 2)
    assert trade.names[-4:] == list(META_COLUMNS)
