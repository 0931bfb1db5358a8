"""Contract-level constraints: an event with a negative quantity or price, a 100 KB ticker, a NaN or
infinite number, or a date centuries out of range goes to the DLQ with a reason naming the field and
the constraint, while the rest of its batch lands. The constraints live in the pydantic models, so the
JSON Schema published for each topic carries them, and adding them stays BACKWARD compatible."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.streaming.memory_setup import memory_broker
from twin.domain.entities import CrmSignal, NavPoint, Trade
from twin.streaming.contracts.compat import backward_problems
from twin.streaming.contracts.registry import json_schema
from twin.streaming.contracts.topics import DLQ_TOPIC, TOPICS
from twin.streaming.decode import BatchDecoder
from twin.streaming.dlq import parse_dead_letter
from twin.streaming.ingest import TOPIC_TABLES, IngestConfig, Ingester
from twin.streaming.memory import MemoryBroker
from twin.streaming.port import Record
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce
from twin.warehouse.engine import Warehouse

SMALL = IngestConfig(batch_max_records=500, batch_max_ms=1, poll_max_records=200, poll_timeout_s=0.01)
SOURCE_OF = {
    "asset-management.trades.execution": "trades",
    "crm.signals": "crm",
    "asset-management.nav.intraday": "nav",
}

CASES = [
    # topic, field, bad value, words the reason must contain
    ("asset-management.trades.execution", "quantity", "-5", "greater than 0"),
    ("asset-management.trades.execution", "price", "0", "greater than 0"),
    ("asset-management.trades.execution", "symbol", "X" * 100_000, "at most 12 characters"),
    ("asset-management.trades.execution", "trade_id", "", "at least 1 character"),
    (
        "asset-management.trades.execution",
        "executed_at",
        "9999-01-01T00:00:00Z",
        "less than or equal to 2100",
    ),
    ("asset-management.nav.intraday", "nav_date", "1066-10-14", "greater than or equal to 1900"),
    ("asset-management.nav.intraday", "nav", "-1.5", "greater than 0"),
    ("crm.signals", "score", float("nan"), "finite number"),
    ("crm.signals", "score", float("inf"), "finite number"),
    ("crm.signals", "kind", "k" * 129, "at most 128 characters"),
]


def _bad_event(broker: MemoryBroker, topic_name: str, field: str, value: Any) -> bytes:
    producer = ContractProducer(broker.producer(), source="test")
    payload = SOURCES[SOURCE_OF[topic_name]].make(random.Random(5), 0, datetime.now(UTC))
    _, event = producer.envelope(topic_name, payload)
    doc = json.loads(event.model_dump_json())
    doc["data"][field] = value
    return json.dumps(doc).encode()  # NaN and inf become the bare NaN/Infinity tokens


@pytest.mark.parametrize(
    ("topic_name", "field", "value", "words"), CASES, ids=[f"{c[1]}-{c[3]}" for c in CASES]
)
def test_an_event_breaking_a_contract_constraint_is_dead_lettered_naming_field_and_limit(
    topic_name: str, field: str, value: Any, words: str
) -> None:
    broker = memory_broker()
    producer = ContractProducer(broker.producer(), source="test")
    produce(producer, SOURCES[SOURCE_OF[topic_name]], rate=1e9, count=100, seed=1)
    producer.send_raw(topic_name, _bad_event(broker, topic_name, field, value), key=b"bad")
    wh = Warehouse()
    ing = Ingester(broker, wh, topic_name, config=SMALL)
    for _ in range(30):
        ing.step()
    ing.flush()
    assert ing.stats.written == 100 and ing.stats.dead_lettered == 1
    dlq = broker.consumer("inspect")
    dlq.subscribe([DLQ_TOPIC])
    [letter] = [parse_dead_letter(r.value) for r in dlq.consume(100, 0)]
    assert letter is not None
    assert f"data.{field}" in letter.reason and words in letter.reason, letter.reason
    assert wh.count(f"bronze.{TOPIC_TABLES[topic_name]}") == 100


def test_the_fast_path_alone_refuses_nan_that_arrows_reader_would_accept() -> None:
    broker = memory_broker()
    bad = _bad_event(broker, "crm.signals", "score", float("nan"))
    decoded = BatchDecoder(TOPICS["crm.signals"]).decode([Record("crm.signals", 0, 0, None, bad, 0)])
    assert decoded.table.num_rows == 0 and decoded.slow_path
    assert "finite" in decoded.rejected[0][1]


def test_published_json_schemas_carry_the_constraints() -> None:
    trade = json_schema(Trade)["properties"]
    assert trade["symbol"]["maxLength"] == 12 and trade["trade_id"]["maxLength"] == 64
    assert {"exclusiveMinimum": 0.0, "type": "number"} in trade["quantity"]["anyOf"]
    assert trade["executed_at"]["formatMaximum"].startswith("2100-12-31")
    assert json_schema(NavPoint)["properties"]["nav_date"]["formatMinimum"] == "1900-01-01"
    assert json_schema(CrmSignal)["properties"]["kind"]["maxLength"] == 128


def _unconstrained(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as it was before the constraints: the same minus every bound keyword."""
    drop = {"maxLength", "minLength", "exclusiveMinimum", "minimum", "formatMinimum", "formatMaximum"}
    if isinstance(schema, dict):
        return {k: _unconstrained(v) for k, v in schema.items() if k not in drop}
    if isinstance(schema, list):
        return [_unconstrained(v) for v in schema]
    return schema


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_adding_the_constraints_keeps_every_topic_backward_compatible(name: str) -> None:
    new = json_schema(TOPICS[name].value)
    assert backward_problems(_unconstrained(new), new) == []
