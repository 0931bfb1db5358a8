"""The cost model's parameters: what a scenario's `cost:` block holds, owned here so the cost model
needs nothing from the simulator (scenarios embed this model; reports and `twin cost` read it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from twin.cost.monitor import parse_resource_monitor


class CostParams(BaseModel):
    """A scenario's `cost:` block: prices and billing rules of the warehouse being twinned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    credits_per_hour: float = Field(4.0, gt=0, description="Snowflake M warehouse")
    price_per_credit: float = Field(3.0, gt=0)
    price_per_second: float | None = Field(
        None, gt=0, description="overrides credits x price when set (the worked example's $0.04/s)"
    )
    seconds_per_query: float = Field(3.0, gt=0, description="production compute seconds per query")
    min_billing_s: float = Field(60.0, ge=0)
    auto_suspend_s: float = Field(60.0, ge=0)
    egress_per_gb: float = Field(0.09, ge=0)
    push_gb_per_day: float = Field(0.0, ge=0)
    storage_tb: float = Field(0.0, ge=0)
    storage_per_tb_month: float = Field(23.0, ge=0)
    days_per_year: int = Field(365, gt=0)
    # Snowflake DDL, e.g. "CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 50 TRIGGERS ON 100 PERCENT DO
    # SUSPEND": enforced on the simulated warehouse (see monitor.py)
    resource_monitor: str | None = None

    @field_validator("resource_monitor")
    @classmethod
    def _monitor_parses(cls, v: str | None) -> str | None:
        if v is not None:
            parse_resource_monitor(v)  # MonitorError is a ValueError: reported with the field's line
        return v

    @property
    def dollars_per_second(self) -> float:
        if self.price_per_second is not None:
            return self.price_per_second
        return self.credits_per_hour * self.price_per_credit / 3600.0
