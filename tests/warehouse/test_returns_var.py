"""Fund returns and historical VaR against values computed independently here, on the tiny NAV series."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pytest

WINDOW = 250  # dbt var var_window_days


def _navs(tiny, fund: str) -> list[tuple[date, float]]:
    return [(d, float(v)) for d, v in tiny.manifest.navs[fund]]


def _last_before(series: list[tuple[date, float]], cutoff: date, *, inclusive: bool) -> float | None:
    earlier = [v for d, v in series if (d <= cutoff if inclusive else d < cutoff)]
    return earlier[-1] if earlier else None


def _expected(series: list[tuple[date, float]], on: date) -> dict[str, float | None]:
    nav = dict(series)[on]
    first = series[0][1]
    quarter_start = date(on.year, 3 * ((on.month - 1) // 3) + 1, 1)

    def period(start: date) -> float:
        base = _last_before(series, start, inclusive=False)
        return nav / (base if base is not None else first) - 1

    try:
        year_ago = on.replace(year=on.year - 1)
    except ValueError:  # 29 February
        year_ago = on - timedelta(days=365)
    base_1y = _last_before(series, year_ago, inclusive=True)
    prev = _last_before(series, on, inclusive=False)
    return {
        "daily_return": None if prev is None else nav / prev - 1,
        "mtd_return": period(on.replace(day=1)),
        "qtd_return": period(quarter_start),
        "ytd_return": period(date(on.year, 1, 1)),
        "return_1y": None if base_1y is None else nav / base_1y - 1,
        "since_inception_return": nav / first - 1,
    }


@pytest.mark.parametrize(
    "on",
    [
        date(2024, 1, 2),
        date(2024, 1, 31),
        date(2024, 4, 1),
        date(2024, 12, 31),
        date(2025, 1, 2),
        date(2025, 2, 28),
    ],
)
def test_fund_returns_match_hand_computed(tiny, on: date) -> None:
    cols = list(_expected(_navs(tiny, "F1"), on))
    with duckdb.connect(str(tiny.db_path), read_only=True) as con:
        row = con.execute(
            f"SELECT {', '.join(cols)} FROM gold.fund_performance WHERE fund_id = 'F1' AND nav_date = ?", [on]
        ).fetchall()
    assert len(row) == 1
    got = dict(zip(cols, row[0], strict=True))
    for col, want in _expected(_navs(tiny, "F1"), on).items():
        if want is None:
            assert got[col] is None, col
        else:
            assert got[col] == pytest.approx(want, rel=1e-9, abs=1e-12), col


def test_fund_var_is_the_historical_quantile_of_recent_returns(tiny) -> None:
    with duckdb.connect(str(tiny.db_path), read_only=True) as con:
        rows = con.execute(
            "SELECT entity_id, observations, var_95_pct, var_99_pct, exposure, var_95 FROM gold.risk_metrics "
            "WHERE entity_type = 'fund' ORDER BY entity_id"
        ).fetchall()
    assert [r[0] for r in rows] == ["F1", "F2", "F3"]
    for fund, obs, v95, v99, exposure, var95 in rows:
        navs = np.array([v for _, v in _navs(tiny, fund)])
        returns = (navs[1:] / navs[:-1] - 1)[-WINDOW:]
        assert obs == len(returns) == WINDOW
        assert v95 == pytest.approx(-np.quantile(returns, 0.05), rel=1e-9)
        assert v99 == pytest.approx(-np.quantile(returns, 0.01), rel=1e-9)
        assert v99 > v95 > 0
        assert var95 == pytest.approx(v95 * exposure)


def test_customer_var_reprices_current_holdings_over_fund_history(tiny) -> None:
    with duckdb.connect(str(tiny.db_path), read_only=True) as con:
        holdings = con.execute(
            "SELECT h.fund_id, sum(h.market_value) FROM silver.holdings h "
            "JOIN silver.accounts a USING (account_id) WHERE a.customer_id = 'C2' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        v95, v99, exposure = con.execute(
            "SELECT var_95_pct, var_99_pct, exposure FROM gold.risk_metrics WHERE risk_id = 'customer:C2'"
        ).fetchall()[0]
        risk_score = con.execute(
            "SELECT risk_score FROM gold.customer_360 WHERE customer_id = 'C2'"
        ).fetchall()[0][0]
    assert holdings
    pnl = np.zeros(WINDOW)
    for fund, mv in holdings:
        navs = np.array([v for _, v in _navs(tiny, fund)])
        pnl += float(mv) * (navs[1:] / navs[:-1] - 1)[-WINDOW:]
    total = sum(float(mv) for _, mv in holdings)
    assert exposure == pytest.approx(total)
    assert v95 == pytest.approx(-np.quantile(pnl, 0.05) / total, rel=1e-9)
    assert v99 == pytest.approx(-np.quantile(pnl, 0.01) / total, rel=1e-9)
    assert float(risk_score) == pytest.approx(round(v95 * 100, 4))
