"""The platform's topics, defined in code: partitions, replication, retention, cleanup, key and value
schema. `twin topics apply` makes a broker match these definitions."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.domain.entities import BalanceUpdate, CrmSignal, NavPoint, Position, Trade
from twin.streaming.contracts.values import (
    ContractChange,
    EntitlementDeadLetter,
    IngestDeadLetter,
    OpportunityChange,
    PerformanceMetric,
    RiskAlert,
)

DAY_MS = 24 * 3600 * 1000


class CleanupPolicy(StrEnum):
    DELETE = "delete"
    COMPACT = "compact"
    COMPACT_DELETE = "compact,delete"


class TopicSpec(BaseModel):
    """One topic as a contract. `key` names the value fields joined (with `:`) into the message key, so all
    events about one entity land on one partition, in order."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    partitions: int = Field(ge=1)
    replication_factor: int = Field(default=3, ge=1)
    retention_ms: int = Field(default=7 * DAY_MS, ge=-1)
    cleanup_policy: CleanupPolicy = CleanupPolicy.DELETE
    key: tuple[str, ...]
    value: type[BaseModel]
    event_type: str
    description: str = ""

    @model_validator(mode="after")
    def _key_fields_exist(self) -> TopicSpec:
        missing = [k for k in self.key if k not in self.value.model_fields]
        if missing:
            raise ValueError(
                f"topic {self.name}: key fields {missing} are not fields of {self.value.__name__}"
            )
        return self

    @property
    def subject(self) -> str:
        """Confluent's TopicNameStrategy subject for the value schema."""
        return f"{self.name}-value"

    def key_of(self, value: BaseModel) -> bytes:
        return ":".join(str(getattr(value, k)) for k in self.key).encode()

    def broker_config(self, replication_factor: int) -> dict[str, str]:
        config = {
            "cleanup.policy": self.cleanup_policy.value,
            "retention.ms": str(self.retention_ms),
        }
        # acks=all only protects a write if at least two replicas must have it.
        config["min.insync.replicas"] = "2" if replication_factor >= 3 else "1"
        return config


def _t(name: str, partitions: int, key: tuple[str, ...], value: type[BaseModel], **kw: object) -> TopicSpec:
    return TopicSpec(name=name, partitions=partitions, key=key, value=value, event_type=f"twin.{name}", **kw)


TOPICS: dict[str, TopicSpec] = {
    t.name: t
    for t in (
        _t("asset-management.nav.intraday", 6, ("fund_id",), NavPoint, description="intraday NAV ticks"),
        _t("asset-management.trades.execution", 12, ("trade_id",), Trade, description="executions"),
        _t("asset-management.risk.alerts", 3, ("fund_id",), RiskAlert, retention_ms=30 * DAY_MS),
        _t("asset-management.performance.metrics", 3, ("fund_id",), PerformanceMetric),
        _t(
            "aladdin.positions.cdc",
            12,
            ("account_id", "fund_id"),
            Position,
            retention_ms=3 * DAY_MS,
            description="Aladdin position snapshots (CDC)",
        ),
        _t(
            "cash.balances",
            6,
            ("account_id",),
            BalanceUpdate,
            cleanup_policy=CleanupPolicy.COMPACT_DELETE,
            description="cash balance changes; latest per account wins",
        ),
        _t("crm.signals", 3, ("client_id",), CrmSignal, retention_ms=30 * DAY_MS),
        _t("salesforce.cdc.opportunity", 3, ("record_id",), OpportunityChange, retention_ms=3 * DAY_MS),
        _t("salesforce.cdc.contract", 3, ("record_id",), ContractChange, retention_ms=3 * DAY_MS),
        _t("entitlements.dlq", 1, ("request_id",), EntitlementDeadLetter, retention_ms=30 * DAY_MS),
        _t("ingest.dlq", 3, ("source_topic",), IngestDeadLetter, retention_ms=30 * DAY_MS),
    )
}

DLQ_TOPIC = "ingest.dlq"


def topic(name: str | TopicSpec) -> TopicSpec:
    """The contract for a topic name (a TopicSpec passes through: tests and evolutions bring their own)."""
    if isinstance(name, TopicSpec):
        return name
    try:
        return TOPICS[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; known: {', '.join(sorted(TOPICS))}") from None
