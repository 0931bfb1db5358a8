# ruff: noqa: E501 -- SQL cases read best kept on one line
"""Role × query acceptance: every cell of the shipped policy table, computed against the raw data."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.governance.conftest import policed_copy, raw
from twin.governance.ddl import parse_policies
from twin.governance.errors import GovernanceError
from twin.governance.session import Claims, SecureSession, open_session
from twin.governance.store import apply_policies
from twin.warehouse.engine import Warehouse

Make = Callable[..., SecureSession]


@pytest.fixture(scope="module", params=["handmade", "dbt-gold"])
def governed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The acceptance cells run on the small hand-made gold and on the real dbt-built gold."""
    wh = policed_copy(request, tmp_path_factory.mktemp("accept"))
    yield wh
    wh.close()


def last4(v: str) -> str:
    return "***-**-" + v[-4:]


def partial(v: str) -> str:
    return v[:3] + "****" + v[-3:]


# role, session department → (departments visible, ssn rule, pii rule, balance visible)
CASES = {
    ("WEALTH_ADMIN", None): ({"Wealth", "Retail"}, lambda v, d: v, lambda v: v, True),
    ("WEALTH_ADVISOR", "Wealth"): ({"Wealth"}, lambda v, d: v, lambda v: v, True),
    ("WEALTH_ADVISOR", "Retail"): ({"Wealth"}, lambda v, d: last4(v), lambda v: v, True),
    ("RETAIL_TELLER", "Retail"): ({"Retail"}, lambda v, d: last4(v), partial, False),
    ("COMPLIANCE_AUDITOR", None): ({"Wealth", "Retail"}, lambda v, d: last4(v), lambda v: "XXXX", True),
    ("EXTERNAL_BI_TOOL", None): (set(), lambda v, d: "XXXX", lambda v: "XXXX", False),
    ("ANALYST", None): (set(), lambda v, d: "XXXX", lambda v: "XXXX", False),
}


@pytest.mark.parametrize(("role", "dept"), list(CASES))
def test_customer_360_cells(governed: Warehouse, session: Make, role: str, dept: str | None) -> None:
    depts, ssn_rule, pii_rule, _ = CASES[(role, dept)]
    truth = {
        r[0]: r
        for r in raw(
            governed,
            "SELECT customer_id, ssn, email, phone, department, total_balance FROM gold.customer_360",
        )
    }
    got = session(role, dept).query(
        "SELECT customer_id, ssn, email, phone, department, total_balance FROM gold.customer_360"
    )
    expected_ids = {cid for cid, r in truth.items() if r[4] in depts}
    assert {r[0] for r in got.rows} == expected_ids
    for cid, ssn, email, phone, department, total in got.rows:
        t = truth[cid]
        assert ssn == ssn_rule(t[1], department)
        assert email == pii_rule(t[2]) and phone == pii_rule(t[3])
        assert total == t[5]  # customer_360.total_balance is not masked


@pytest.mark.parametrize(("role", "dept"), list(CASES))
def test_accounts_cells(governed: Warehouse, session: Make, role: str, dept: str | None) -> None:
    depts, _, pii_rule, balance_visible = CASES[(role, dept)]
    truth = {
        r[0]: r
        for r in raw(governed, "SELECT account_id, account_number, balance, department FROM gold.accounts")
    }
    got = session(role, dept).query("SELECT account_id, account_number, balance FROM gold.accounts")
    assert {r[0] for r in got.rows} == {a for a, r in truth.items() if r[3] in depts}
    for aid, number, balance in got.rows:
        assert number == pii_rule(truth[aid][1])
        assert balance == (truth[aid][2] if balance_visible else None)


def test_portfolio_rows_follow_department(governed: Warehouse, session: Make) -> None:
    n_retail = raw(governed, "SELECT count(*) FROM gold.portfolio_daily WHERE department = 'Retail'")[0][0]
    assert (
        session("RETAIL_TELLER", "Retail").query("SELECT count(*) FROM gold.portfolio_daily").rows[0][0]
        == n_retail
    )


def test_external_bi_reads_aggregates_not_customers(governed: Warehouse, session: Make) -> None:
    bi = session("EXTERNAL_BI_TOOL")
    agg = bi.query(
        "SELECT department, asset_class, aum FROM gold.aum_by_department_asset_class ORDER BY 1, 2"
    )
    assert agg.rows == raw(
        governed, "SELECT department, asset_class, aum FROM gold.aum_by_department_asset_class ORDER BY 1, 2"
    )
    assert agg.row_count > 0
    for t in ("gold.customer_360", "gold.accounts", "gold.portfolio_daily"):
        assert bi.query(f"SELECT count(*) FROM {t}").rows == [(0,)]


def test_is_role_in_session_follows_hierarchy_and_secondary_roles(session: Make) -> None:
    # WEALTH_ADMIN inherits WEALTH_ADVISOR, so pii_mask's advisor branch applies to it.
    admin = session("WEALTH_ADMIN")
    assert "WEALTH_ADVISOR" in admin.active_roles
    # A secondary role adds its rows and its unmasking to the primary role's.
    s = session("ANALYST", secondary=["RETAIL_TELLER"])
    rows = s.query("SELECT DISTINCT department FROM gold.customer_360").rows
    assert rows == [("Retail",)]


def test_row_access_is_evaluated_on_unmasked_values(fresh: Warehouse) -> None:
    # A row policy on the ssn column sees the real value even though the column is masked for the role.
    target = raw(fresh, "SELECT ssn FROM gold.customer_360 WHERE department = 'Retail' LIMIT 1")[0][0]
    apply_policies(
        fresh.con,
        parse_policies(
            f"""CREATE OR REPLACE ROW ACCESS POLICY one_ssn AS (s STRING) RETURNS BOOLEAN -> s = '{target}';
            ALTER TABLE gold.customer_360 ADD ROW ACCESS POLICY one_ssn ON (ssn);"""
        ),
    )
    with open_session(fresh, Claims(user="t", role="RETAIL_TELLER")) as s:
        assert s.query("SELECT ssn FROM gold.customer_360").rows == [(last4(target),)]


def test_conditional_masking_with_using(fresh: Warehouse) -> None:
    apply_policies(
        fresh.con,
        parse_policies(
            """CREATE OR REPLACE MASKING POLICY by_dept AS (v STRING, d STRING) RETURNS STRING ->
                 CASE WHEN d = 'Retail' THEN v ELSE 'HIDDEN' END;
            ALTER TABLE gold.customer_360 MODIFY COLUMN name SET MASKING POLICY by_dept USING (name, department);"""
        ),
    )
    truth = dict(raw(fresh, "SELECT customer_id, name FROM gold.customer_360"))
    with open_session(fresh, Claims(user="t", role="WEALTH_ADMIN")) as s:
        for cid, name, dept in s.query("SELECT customer_id, name, department FROM gold.customer_360").rows:
            assert name == (truth[cid] if dept == "Retail" else "HIDDEN")


def test_mapping_table_change_moves_rows(fresh: Warehouse) -> None:
    already_open = open_session(fresh, Claims(user="t", role="RETAIL_TELLER"))
    assert already_open.query("SELECT DISTINCT department FROM gold.customer_360").rows == [("Retail",)]
    apply_policies(
        fresh.con,
        parse_policies(
            """CREATE OR REPLACE TABLE governance.role_department_map (role_name VARCHAR, department VARCHAR);
            INSERT INTO governance.role_department_map VALUES ('RETAIL_TELLER', 'Wealth');"""
        ),
    )
    with open_session(fresh, Claims(user="t", role="RETAIL_TELLER")) as s:
        assert s.query("SELECT DISTINCT department FROM gold.customer_360").rows == [("Wealth",)]
    # A session opened before the change picks it up on its next query.
    assert already_open.query("SELECT DISTINCT department FROM gold.customer_360").rows == [("Wealth",)]
    already_open.close()


def test_unknown_role_is_refused(governed: Warehouse) -> None:
    with pytest.raises(GovernanceError, match="unknown role"):
        open_session(governed, Claims(user="t", role="SUPERUSER"))


def test_policy_changes_reach_open_sessions_and_gold_refresh_is_seen(fresh: Warehouse) -> None:
    s = open_session(fresh, Claims(user="t", role="RETAIL_TELLER"))
    before = s.query("SELECT count(*) FROM gold.customer_360").rows[0][0]
    # The admin connection refreshes gold in the same process while the session is open.
    fresh.con.execute(
        "INSERT INTO gold.customer_360 SELECT 'NEW1', name, ssn, email, phone, 'Retail', advisor_id, total_balance, "
        "account_count, last_trade_date, risk_score, profile_refreshed_at FROM gold.customer_360 LIMIT 1"
    ).fetchall()
    assert s.query("SELECT count(*) FROM gold.customer_360").rows[0][0] == before + 1
    apply_policies(
        fresh.con,
        parse_policies(
            "CREATE OR REPLACE MASKING POLICY n AS (v STRING) RETURNS STRING -> 'N';"
            "ALTER TABLE gold.fund_nav MODIFY COLUMN fund_id SET MASKING POLICY n;"
        ),
    )
    assert s.query("SELECT DISTINCT fund_id FROM gold.fund_nav").rows == [("N",)]
    s.close()
