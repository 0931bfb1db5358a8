"""ONE contract suite for the platform's query port: any adapter (in-process now, HTTP later) passes it
unchanged. It speaks only the port: principals, catalogue operations or SQL, outcomes and errors."""

from __future__ import annotations

from typing import Any

import pytest

from twin.platform.errors import BadParameters, Denied, PlatformError, UnknownOperation
from twin.platform.operations import CATALOGUE
from twin.platform.port import Outcome
from twin.platform.principal import Principal

ADVISOR = Principal(user="advisor-1", role="WEALTH_ADVISOR", department="Wealth")
ADVISOR_2 = Principal(user="advisor-2", role="WEALTH_ADVISOR", department="Wealth")
TELLER = Principal(user="teller-1", role="RETAIL_TELLER", department="Retail")


def _args(adapter: Any, name: str) -> list[Any]:
    """A real argument for each of the operation's parameters, from the harness side."""
    op = CATALOGUE[name]
    return [adapter.sample_keys(p.source.table, p.source.column, 1)[0] for p in op.params if p.source]


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_catalogue_operation_answers_in_its_declared_shape(adapter: Any, name: str) -> None:
    out = adapter.query(ADVISOR, name, _args(adapter, name))
    assert isinstance(out, Outcome)
    assert out.columns == CATALOGUE[name].columns
    assert out.rows >= 0 and out.duration_s >= 0


def test_an_operation_by_name_and_its_sql_give_the_same_answer(adapter: Any) -> None:
    args = _args(adapter, "client_accounts")
    by_name = adapter.query(ADVISOR, "client_accounts", args)
    by_sql = adapter.query(ADVISOR, CATALOGUE["client_accounts"].sql, args)
    assert (by_name.rows, by_name.digest) == (by_sql.rows, by_sql.digest)


def test_unknown_operations_and_wrong_arity_are_refused_with_the_names_known(adapter: Any) -> None:
    with pytest.raises(UnknownOperation, match="client_360"):
        adapter.query(ADVISOR, "no_such_operation", [])
    with pytest.raises(BadParameters, match="client_360 takes 1 parameter"):
        adapter.query(ADVISOR, "client_360", [])


def test_private_schemas_and_writes_are_denied(adapter: Any) -> None:
    for sql in (
        "SELECT * FROM governance.role_department_map",
        "SELECT * FROM silver.customers",
        "DELETE FROM gold.accounts",
    ):
        with pytest.raises(Denied):
            adapter.query(ADVISOR, sql, [])


def test_a_role_no_policy_defines_is_refused_and_explained(adapter: Any) -> None:
    ghost = Principal(user="g", role="GHOST_ROLE")
    assert "GHOST_ROLE" in (adapter.check(ghost) or "")
    assert adapter.check(ADVISOR) is None
    with pytest.raises(PlatformError):
        adapter.query(ghost, "aum_overview", [])


def test_row_access_shows_each_role_only_its_department(adapter: Any) -> None:
    sql = "SELECT DISTINCT department FROM gold.customer_360"
    advisor, teller = adapter.query(ADVISOR, sql, []), adapter.query(TELLER, sql, [])
    assert advisor.rows == teller.rows == 1 and advisor.digest != teller.digest
    # the same user-independent answer for two advisors of one department
    assert adapter.query(ADVISOR_2, sql, []).digest == advisor.digest


def test_cache_scope_is_shared_exactly_by_principals_the_policies_treat_alike(adapter: Any) -> None:
    assert adapter.cache_scope(ADVISOR) == adapter.cache_scope(ADVISOR_2)
    assert adapter.cache_scope(ADVISOR) != adapter.cache_scope(TELLER)
    other_dept = ADVISOR.model_copy(update={"department": "Retail"})
    assert adapter.cache_scope(other_dept) != adapter.cache_scope(ADVISOR)
    with_secondary = ADVISOR.model_copy(update={"secondary_roles": ("RETAIL_TELLER",)})
    assert adapter.cache_scope(with_secondary) != adapter.cache_scope(ADVISOR)
