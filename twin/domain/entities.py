"""The platform's entities as pydantic v2 models.

These are the contracts between the fixture generator (which writes one Parquet file per entity with
exactly these columns), the warehouse (which loads them into bronze) and the event topics. Raw feeds
(trades, NAVs, balance updates, positions, CRM signals) also carry `RawFeedMeta` columns so tests can
count what silver must remove (injected duplicates) or place (late, out-of-order events).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import JsonDict

_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")

# Contract limits for the event feeds. An event outside them is refused at ingestion (a dead letter whose
# reason names the field and the limit), and each topic's published JSON Schema carries them. Ids are
# short codes (the fixtures' longest is 13 characters); business dates stay within two centuries.
ID_MAX_LEN = 64
TICKER_MAX_LEN = 12
LABEL_MAX_LEN = 128
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2100, 12, 31)
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 12, 31, 23, 59, 59, tzinfo=UTC)


def ident(**kw: Any) -> Any:
    return Field(min_length=1, max_length=ID_MAX_LEN, **kw)


def business_date(**kw: Any) -> Any:
    # JSON Schema has no bound for a date; formatMinimum/formatMaximum is the draft keyword validators use.
    extra: JsonDict = {"formatMinimum": EARLIEST_DATE.isoformat(), "formatMaximum": LATEST_DATE.isoformat()}
    return Field(ge=EARLIEST_DATE, le=LATEST_DATE, json_schema_extra=extra, **kw)


def business_time(**kw: Any) -> Any:
    extra: JsonDict = {"formatMinimum": EARLIEST_TIME.isoformat(), "formatMaximum": LATEST_TIME.isoformat()}
    return Field(ge=EARLIEST_TIME, le=LATEST_TIME, json_schema_extra=extra, **kw)


class Department(StrEnum):
    WEALTH = "Wealth"
    RETAIL = "Retail"


class AccountType(StrEnum):
    BROKERAGE = "brokerage"
    IRA = "ira"
    CHECKING = "checking"
    SAVINGS = "savings"
    TRUST = "trust"


class AssetClass(StrEnum):
    EQUITY = "Equity"
    FIXED_INCOME = "Fixed Income"
    MULTI_ASSET = "Multi-Asset"
    ALTERNATIVES = "Alternatives"
    MONEY_MARKET = "Money Market"


class InstitutionType(StrEnum):
    HEDGE_FUND = "hedge_fund"
    PENSION_FUND = "pension_fund"
    ASSET_MANAGER = "asset_manager"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class ContractStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    TERMINATED = "terminated"
    EXPIRED = "expired"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RawFeedMeta(_Model):
    """Lineage markers on every raw-feed record.

    `_event_id` is unique per emitted record; an injected duplicate has its own `_event_id` and names the
    original in `_dup_of`. `_emitted_at` is when the source emitted the record: a late event is emitted
    after records whose business time is later than its own (`_late` is true), so ordering by arrival
    is wrong and silver must order by business time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    event_id: str = Field(alias="_event_id")
    emitted_at: datetime = Field(alias="_emitted_at")
    dup_of: str | None = Field(default=None, alias="_dup_of")
    late: bool = Field(default=False, alias="_late")


class Customer(_Model):
    """A person (retail or wealth client). ssn, email, phone and date_of_birth are PII."""

    customer_id: str
    name: str
    ssn: str
    email: str
    phone: str
    date_of_birth: date
    department: Department
    advisor_id: str
    region: str

    @field_validator("ssn")
    @classmethod
    def _valid_ssn(cls, v: str) -> str:
        if not _SSN.match(v):
            raise ValueError(f"not a valid SSN (NNN-NN-NNNN with a valid area number): {v!r}")
        return v


class Account(_Model):
    account_id: str
    customer_id: str
    account_number: str
    type: AccountType
    balance: Decimal
    currency: str = Field(min_length=3, max_length=3)


class InstitutionalClient(_Model):
    client_id: str
    name: str
    type: InstitutionType
    salesforce_account_id: str
    aws_account_id: str = Field(pattern=r"^\d{12}$")
    region: str


class Fund(_Model):
    fund_id: str
    ticker: str
    name: str
    asset_class: AssetClass
    currency: str = Field(min_length=3, max_length=3)
    inception_date: date


class NavPoint(_Model):
    """One business day's net asset value per share of a fund."""

    fund_id: str = ident()
    nav_date: date = business_date()
    nav: Decimal = Field(gt=0)
    aum: Decimal = Field(ge=0)


class Trade(_Model):
    """An executed trade; `symbol` is a fund ticker, so every trade maps to a fund and asset class."""

    trade_id: str = ident()
    account_id: str = ident()
    symbol: str = Field(min_length=1, max_length=TICKER_MAX_LEN)
    side: Side
    quantity: Decimal = Field(gt=0)
    price: Decimal = Field(gt=0)
    executed_at: datetime = business_time()


class Position(_Model):
    """An Aladdin position snapshot: holdings of one fund in one account as of a date."""

    account_id: str = ident()
    fund_id: str = ident()
    quantity: Decimal = Field(ge=0)
    market_value: Decimal = Field(ge=0)
    as_of: date = business_date()


class BalanceUpdate(_Model):
    """A cash-balance change event; for each account the update with the latest `updated_at` wins."""

    account_id: str = ident()
    balance: Decimal  # an overdrawn account has a negative balance
    currency: str = Field(min_length=3, max_length=3)
    updated_at: datetime = business_time()


class CrmSignal(_Model):
    """A CRM engagement signal (meeting logged, opportunity stage change, …) for an institutional client."""

    signal_id: str = ident()
    client_id: str = ident()
    kind: str = Field(min_length=1, max_length=LABEL_MAX_LEN)
    score: float = Field(allow_inf_nan=False)
    occurred_at: datetime = business_time()


class DataProduct(_Model):
    """One of the four data products sold through ADX."""

    product_id: str
    name: str
    description: str
    gold_tables: list[str]
    price_per_month_usd: Decimal


class Contract(_Model):
    contract_id: str
    client_id: str
    product_id: str
    status: ContractStatus
    start_date: date
    end_date: date | None = None
