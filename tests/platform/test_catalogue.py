"""The operation catalogue and the principal: defined once, checked when defined."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from twin.platform.errors import BadParameters, UnknownOperation
from twin.platform.operations import CATALOGUE, Operation, is_operation_name, operation
from twin.platform.principal import Principal


def test_each_operation_has_one_parameter_per_placeholder_and_a_sampling_source() -> None:
    for name, op in CATALOGUE.items():
        assert op.name == name and op.columns
        assert op.sql.count("?") == len(op.params)
        assert all(p.source is not None for p in op.params), name


def test_an_inconsistent_operation_is_refused_when_defined() -> None:
    with pytest.raises(ValidationError, match="1 '\\?' but 0 parameter"):
        Operation(name="x", sql="SELECT * FROM gold.accounts WHERE customer_id = ?", columns=("a",))
    with pytest.raises(ValidationError, match="lower-case"):
        Operation(name="Bad Name", sql="SELECT 1", columns=("a",))


def test_lookups_name_what_is_known_and_check_arity() -> None:
    with pytest.raises(UnknownOperation, match="known: aum_overview, client_360"):
        operation("nope")
    with pytest.raises(BadParameters, match=r"fund_nav takes 1 parameter\(s\) \(fund_id\), got 2"):
        operation("fund_nav").bind(["F1", "F2"])
    assert operation("fund_nav").bind(("F1",)) == ["F1"]


def test_names_and_sql_are_told_apart() -> None:
    assert is_operation_name("client_360")
    assert not is_operation_name("SELECT 1")
    assert not is_operation_name(CATALOGUE["aum_overview"].sql)


def test_a_principal_gives_the_claims_and_cache_scope_the_layers_below_need() -> None:
    p = Principal(user="u", role="wealth_advisor", department="Wealth", secondary_roles=["retail_teller"])
    claims = p.claims()
    assert (claims.role, claims.secondary_roles) == ("WEALTH_ADVISOR", ["RETAIL_TELLER"])
    scope = p.cache_scope()
    assert (scope.role, scope.secondary_roles, scope.user) == ("WEALTH_ADVISOR", ("RETAIL_TELLER",), None)
    assert Principal.of("u", "R", None, ["S"]) == Principal(user="u", role="R", secondary_roles=("S",))
    with pytest.raises(ValidationError):
        Principal(user="u", role="R", password="x")  # type: ignore[call-arg]
    for bad in ("advisor; drop", "1ROLE", ""):
        with pytest.raises(ValidationError, match="not a role name"):
            Principal(user="u", role=bad)
        with pytest.raises(ValidationError, match="not a role name"):
            Principal(user="u", role="R", secondary_roles=[bad])
