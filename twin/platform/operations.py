"""The operation catalogue: every named query the platform serves, defined once.

An operation is SQL over gold with positional `?` parameters, the parameters' names and where a
harness can sample realistic values for them, and the result's columns (its shape). Scenarios name
operations instead of repeating the SQL; the API routes and load-test users are generated from or
checked against the same entries. The contract suite runs each one and checks the columns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.platform.errors import BadParameters, UnknownOperation

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeySource(_Strict):
    """A column whose values are valid arguments for a parameter (what load generators sample)."""

    table: str
    column: str


class Param(_Strict):
    name: str
    type: Literal["str", "int", "date"] = "str"
    source: KeySource | None = None


class Operation(_Strict):
    name: str
    sql: str
    params: tuple[Param, ...] = ()
    columns: tuple[str, ...] = Field(min_length=1)  # the result's shape, in order
    description: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Operation:
        if not _NAME.match(self.name):
            raise ValueError(f"operation name {self.name!r}: lower-case letters, digits and _")
        marks = self.sql.count("?")
        if marks != len(self.params):
            raise ValueError(f"{self.name}: sql has {marks} '?' but {len(self.params)} parameter(s)")
        return self

    def bind(self, params: Sequence[Any]) -> list[Any]:
        """The parameters as a list, checked against the operation's arity."""
        values = list(params)
        if len(values) != len(self.params):
            names = ", ".join(p.name for p in self.params) or "none"
            raise BadParameters(
                f"{self.name} takes {len(self.params)} parameter(s) ({names}), got {len(values)}"
            )
        return values


def _key(table: str, column: str, name: str | None = None) -> Param:
    return Param(name=name or column, source=KeySource(table=table, column=column))


def _cols(names: str) -> tuple[str, ...]:
    return tuple(names.split())


CATALOGUE: dict[str, Operation] = {
    op.name: op
    for op in [
        Operation(
            name="client_360",
            sql="SELECT * FROM gold.customer_360 WHERE customer_id = ?",
            params=(_key("gold.customer_360", "customer_id"),),
            columns=_cols(
                "customer_id name ssn email phone department advisor_id total_balance account_count"
                " last_trade_date risk_score profile_refreshed_at"
            ),
            description="one client's profile, masked for the caller's role",
        ),
        Operation(
            name="client_accounts",
            sql="SELECT * FROM gold.accounts WHERE customer_id = ?",
            params=(_key("gold.accounts", "customer_id"),),
            columns=_cols(
                "account_id customer_id account_number type balance currency department balance_updated_at"
            ),
            description="a client's accounts and balances",
        ),
        Operation(
            name="fund_nav",
            sql="SELECT * FROM gold.fund_nav WHERE fund_id = ? ORDER BY nav_date DESC LIMIT 30",
            params=(_key("gold.fund_nav", "fund_id"),),
            columns=_cols("fund_id ticker fund_name asset_class currency nav_date nav aum"),
            description="a fund's last 30 NAVs, newest first",
        ),
        Operation(
            name="fund_performance",
            sql="SELECT * FROM gold.fund_performance WHERE fund_id = ? ORDER BY nav_date DESC LIMIT 1",
            params=(_key("gold.fund_performance", "fund_id"),),
            columns=_cols(
                "fund_id nav_date nav daily_return mtd_return qtd_return ytd_return return_1y"
                " since_inception_return"
            ),
            description="a fund's latest returns over the standard periods",
        ),
        Operation(
            name="aum_overview",
            sql="SELECT * FROM gold.aum_by_department_asset_class",
            columns=_cols("department asset_class aum customers accounts holdings"),
            description="assets under management by department and asset class (row access applies)",
        ),
    ]
}


def operation(name: str) -> Operation:
    """The catalogue's entry for `name`, or an error naming the ones there are."""
    op = CATALOGUE.get(name)
    if op is None:
        known = ", ".join(sorted(CATALOGUE))
        raise UnknownOperation(f"no operation {name!r} in the catalogue; known: {known}")
    return op


def is_operation_name(text: str) -> bool:
    """True when `text` reads as an operation name rather than SQL (SQL always has a space)."""
    return bool(_NAME.match(text))
