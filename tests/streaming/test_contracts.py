"""Topics as contracts: definitions, JSON Schema export, the schema store and BACKWARD compatibility."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from twin.domain.entities import BalanceUpdate, Position, Trade
from twin.streaming.contracts.compat import backward_problems
from twin.streaming.contracts.registry import IncompatibleSchema, SchemaStore, json_schema
from twin.streaming.contracts.topics import TOPICS, CleanupPolicy, topic

REQUIRED_TOPICS = {
    "asset-management.nav.intraday",
    "asset-management.trades.execution",
    "asset-management.risk.alerts",
    "asset-management.performance.metrics",
    "aladdin.positions.cdc",
    "cash.balances",
    "crm.signals",
    "salesforce.cdc.opportunity",
    "salesforce.cdc.contract",
    "entitlements.dlq",
    "ingest.dlq",
}


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class V1(_Closed):
    order_id: str
    amount: float
    placed_at: datetime
    note: str | None = None


class V2AddsOptional(_Closed):
    order_id: str
    amount: float
    placed_at: datetime
    note: str | None = None
    channel: str | None = None


class V2RemovesRequired(_Closed):
    order_id: str
    placed_at: datetime
    note: str | None = None


class V2Renames(_Closed):
    order_id: str
    total: float
    placed_at: datetime
    note: str | None = None


class V2ChangesType(_Closed):
    order_id: str
    amount: str
    placed_at: datetime
    note: str | None = None


class V2AddsRequired(_Closed):
    order_id: str
    amount: float
    placed_at: datetime
    note: str | None = None
    desk: str


class IntAmount(_Closed):
    order_id: str
    amount: int
    placed_at: datetime
    note: str | None = None


def test_every_topic_the_architecture_names_is_defined_with_its_settings() -> None:
    assert set(TOPICS) >= REQUIRED_TOPICS
    for spec in TOPICS.values():
        assert spec.partitions >= 1 and spec.retention_ms > 0
        assert all(k in spec.value.model_fields for k in spec.key)
    assert topic("cash.balances").cleanup_policy is CleanupPolicy.COMPACT_DELETE
    assert topic("aladdin.positions.cdc").value is Position
    assert topic("asset-management.trades.execution").value is Trade


def test_key_is_the_entity_id() -> None:
    spec = topic("aladdin.positions.cdc")
    p = Position(account_id="A1", fund_id="F9", quantity=1, market_value=2, as_of="2026-11-22")
    assert spec.key_of(p) == b"A1:F9"


def test_three_replicas_require_two_in_sync() -> None:
    spec = topic("crm.signals")
    assert spec.broker_config(3)["min.insync.replicas"] == "2"
    assert spec.broker_config(1)["min.insync.replicas"] == "1"


def test_value_schema_is_json_schema_of_the_entity() -> None:
    schema = json_schema(BalanceUpdate)
    assert set(schema["required"]) == {"account_id", "balance", "currency", "updated_at"}
    assert schema["additionalProperties"] is False


def test_adding_an_optional_field_is_backward_compatible() -> None:
    assert backward_problems(json_schema(V1), json_schema(V2AddsOptional)) == []


def test_widening_integer_to_number_is_backward_compatible() -> None:
    assert backward_problems(json_schema(IntAmount), json_schema(V1)) == []
    narrowing = backward_problems(json_schema(V1), json_schema(IntAmount))
    assert len(narrowing) == 1 and "'amount'" in narrowing[0]


@pytest.mark.parametrize(
    ("new", "field", "words"),
    [
        (V2RemovesRequired, "amount", "removed"),
        (V2ChangesType, "amount", "changed type"),
        (V2AddsRequired, "desk", "added as required"),
    ],
)
def test_breaking_changes_fail_naming_the_field(new: type[BaseModel], field: str, words: str) -> None:
    problems = backward_problems(json_schema(V1), json_schema(new))
    assert len(problems) == 1
    assert f"'{field}'" in problems[0] and words in problems[0]


def test_a_rename_names_both_fields() -> None:
    problems = backward_problems(json_schema(V1), json_schema(V2Renames))
    assert any("'amount' was removed" in p and "'total'" in p for p in problems)
    assert any("'total' was added as required" in p for p in problems)


def test_an_enum_losing_a_value_fails() -> None:
    old = {"type": "object", "properties": {"side": {"enum": ["BUY", "SELL"]}}, "required": ["side"]}
    wider = {
        "type": "object",
        "properties": {"side": {"enum": ["BUY", "SELL", "SHORT"]}},
        "required": ["side"],
    }
    narrower = {"type": "object", "properties": {"side": {"enum": ["BUY"]}}, "required": ["side"]}
    assert backward_problems(old, wider) == []
    assert backward_problems(old, narrower) == ["field 'side' no longer accepts SELL"]


def test_nested_fields_are_named_by_path() -> None:
    def doc(inner_type: str) -> dict:
        return {
            "type": "object",
            "properties": {
                "fx": {"$ref": "#/$defs/Fx"},
            },
            "required": ["fx"],
            "$defs": {
                "Fx": {"type": "object", "properties": {"rate": {"type": inner_type}}, "required": ["rate"]}
            },
        }

    assert backward_problems(doc("number"), doc("string")) == [
        "field 'fx.rate' changed type from number to string"
    ]


def test_store_versions_and_refuses_incompatible_versions(tmp_path: Path) -> None:
    store = SchemaStore(tmp_path / "schemas")
    assert store.register("orders-value", V1) == 1
    assert store.register("orders-value", V1) == 1  # idempotent
    assert store.register("orders-value", V2AddsOptional) == 2
    with pytest.raises(IncompatibleSchema) as err:
        store.register("orders-value", V2ChangesType)
    assert "'amount'" in str(err.value)
    assert store.versions("orders-value") == [1, 2]
    reopened = SchemaStore(tmp_path / "schemas")
    assert reopened.versions("orders-value") == [1, 2]
    assert reopened.get("orders-value") == json_schema(V2AddsOptional)
    assert reopened.get("orders-value", 1) == json_schema(V1)
    assert store.check("orders-value", json_schema(V2RemovesRequired))
