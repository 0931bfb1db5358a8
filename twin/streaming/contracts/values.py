"""Value schemas for topics whose payload is not one of the domain entities (alerts, metrics, CDC
changes, dead letters). Raw feeds reuse the entities in `twin.domain.entities` unchanged, so an ingested
event lands in the same bronze columns the fixtures load."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class RiskAlert(_Value):
    alert_id: str
    fund_id: str
    metric: str
    value: float
    threshold: float
    severity: Severity
    raised_at: datetime


class PerformanceMetric(_Value):
    fund_id: str
    as_of: date
    period: str
    total_return: float
    benchmark_return: float | None = None


class ChangeType(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"


class OpportunityChange(_Value):
    """Salesforce Change Data Capture for Opportunity (the fields the platform reads)."""

    record_id: str
    change_type: ChangeType
    account_id: str
    stage_name: str | None = None
    amount: Decimal | None = None
    close_date: date | None = None
    commit_timestamp: datetime


class ContractChange(_Value):
    record_id: str
    change_type: ChangeType
    account_id: str
    status: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    commit_timestamp: datetime


class EntitlementDeadLetter(_Value):
    request_id: str
    step: str
    reason: str
    attempts: int = Field(ge=0)
    payload: str
    failed_at: datetime


class IngestDeadLetter(_Value):
    """A message the ingester could not land in bronze: where it came from, why, and its exact bytes."""

    source_topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    reason: str
    key_b64: str | None = None
    original_b64: str
    ingester: str
    attempts: int = Field(default=1, ge=1)
    failed_at: datetime
