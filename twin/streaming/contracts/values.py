"""Value schemas for topics whose payload is not one of the domain entities (alerts, metrics, CDC
changes, dead letters). Raw feeds reuse the entities in `twin.domain.entities` unchanged, so an ingested
event lands in the same bronze columns the fixtures load."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.domain.entities import LABEL_MAX_LEN, business_date, business_time, ident


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class RiskAlert(_Value):
    alert_id: str = ident()
    fund_id: str = ident()
    metric: str = Field(min_length=1, max_length=LABEL_MAX_LEN)
    value: float = Field(allow_inf_nan=False)
    threshold: float = Field(allow_inf_nan=False)
    severity: Severity
    raised_at: datetime = business_time()


class PerformanceMetric(_Value):
    fund_id: str = ident()
    as_of: date = business_date()
    period: str = Field(min_length=1, max_length=LABEL_MAX_LEN)
    total_return: float = Field(allow_inf_nan=False)
    benchmark_return: float | None = Field(default=None, allow_inf_nan=False)


class ChangeType(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"


class OpportunityChange(_Value):
    """Salesforce Change Data Capture for Opportunity (the fields the platform reads)."""

    record_id: str = ident()
    change_type: ChangeType
    account_id: str = ident()
    stage_name: str | None = Field(default=None, max_length=LABEL_MAX_LEN)
    amount: Decimal | None = Field(default=None, ge=0)
    close_date: date | None = business_date(default=None)
    commit_timestamp: datetime = business_time()


class ContractChange(_Value):
    record_id: str = ident()
    change_type: ChangeType
    account_id: str = ident()
    status: str | None = Field(default=None, max_length=LABEL_MAX_LEN)
    start_date: date | None = business_date(default=None)
    end_date: date | None = business_date(default=None)
    commit_timestamp: datetime = business_time()


class EntitlementDeadLetter(_Value):
    request_id: str
    step: str
    reason: str
    attempts: int = Field(ge=0)
    payload: str
    failed_at: datetime


# A dead letter must fit on the broker whatever it carries: these caps keep an encoded letter under
# 100 KiB (Kafka's default message.max.bytes is 1,048,588). Bigger payloads are kept in the warehouse.
INLINE_PAYLOAD_MAX_BYTES = 64 * 1024
DEAD_LETTER_REASON_MAX_CHARS = 2_000
DEAD_LETTER_KEY_MAX_CHARS = 1_024
_INLINE_B64_MAX_CHARS = (INLINE_PAYLOAD_MAX_BYTES + 2) // 3 * 4


class IngestDeadLetter(_Value):
    """A message the ingester could not land in bronze: where it came from, why, and its exact bytes:
    inline (`original_b64`, `key_b64`) when small, else by reference (`payload_sha256`, `payload_bytes`)
    to the warehouse's dead-letter payload table, keyed by (source_topic, partition, offset)."""

    source_topic: str = Field(max_length=249)  # Kafka's own limit on a topic name
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    reason: str = Field(max_length=DEAD_LETTER_REASON_MAX_CHARS)
    key_b64: str | None = Field(default=None, max_length=DEAD_LETTER_KEY_MAX_CHARS)
    original_b64: str | None = Field(default=None, max_length=_INLINE_B64_MAX_CHARS)
    payload_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    payload_bytes: int | None = Field(default=None, ge=0)
    ingester: str = Field(max_length=200)
    attempts: int = Field(default=1, ge=1)
    failed_at: datetime

    @model_validator(mode="after")
    def _payload_inline_or_referenced(self) -> IngestDeadLetter:
        if (self.original_b64 is None) == (self.payload_sha256 is None):
            raise ValueError("a dead letter carries exactly one of original_b64 or payload_sha256")
        return self
