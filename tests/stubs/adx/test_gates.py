"""The publish gates on their own: NAV freshness around the 17:00 strike, key nulls, schema drift, PII."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from twin.stubs.adx.gates import KEY_COLUMNS_META, PII_COLUMNS_META, expected_nav_date, run_gates


def _write(path: Path, table: pa.Table, **meta: list[str]) -> Path:
    keys = {KEY_COLUMNS_META: meta.get("keys"), PII_COLUMNS_META: meta.get("pii")}
    md = {k: json.dumps(v).encode() for k, v in keys.items() if v is not None}
    pq.write_table(table.replace_schema_metadata(md or None), path)
    return path


def _nav(latest: date) -> pa.Table:
    return pa.table({"fund_id": ["F1", "F1"], "nav_date": [date(2026, 10, 28), latest], "nav": [1.0, 1.1]})


def _failed(report) -> set[str]:
    return {c.gate for c in report.failures()}


def test_the_expected_nav_date_moves_at_17_00_and_skips_weekends():
    assert expected_nav_date(datetime(2026, 10, 30, 16, 59)) == date(2026, 10, 29)
    assert expected_nav_date(datetime(2026, 10, 30, 17, 0)) == date(2026, 10, 30)
    assert expected_nav_date(datetime(2026, 11, 2, 9, 0)) == date(2026, 10, 30)  # Monday morning: Friday's
    assert expected_nav_date(datetime(2026, 10, 31, 18, 0)) == date(2026, 10, 30)  # Saturday


def test_yesterdays_nav_passes_before_the_strike_and_fails_after_it(tmp_path):
    f = _write(tmp_path / "fund_nav.parquet", _nav(date(2026, 10, 29)))
    assert run_gates([f], [], as_of=datetime(2026, 10, 30, 16, 30)).passed
    late = run_gates([f], [], as_of=datetime(2026, 10, 30, 17, 30))
    assert _failed(late) == {"nav_freshness"}
    assert "expected 2026-10-30" in late.summary()


def test_nulls_in_key_columns_fail_naming_the_column(tmp_path):
    t = pa.table({"department": ["A", None], "asset_class": ["eq", "fi"], "aum": [1.0, 2.0]})
    report = run_gates(
        [_write(tmp_path / "aum.parquet", t, keys=["department", "asset_class"])],
        [],
        as_of=datetime(2026, 10, 30, 18),
    )
    assert _failed(report) == {"key_nulls"}
    assert "department: 1 null(s)" in report.summary()


def test_dropping_or_retyping_a_column_is_drift_adding_one_is_not(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old = _write(tmp_path / "old" / "fund_nav.parquet", _nav(date(2026, 10, 30)))
    added = _write(
        tmp_path / "new" / "fund_nav.parquet",
        _nav(date(2026, 10, 30)).append_column("aum", pa.array([5.0, 6.0])),
    )
    as_of = datetime(2026, 10, 30, 18)
    assert run_gates([added], [old], as_of=as_of).passed

    dropped = _write(tmp_path / "new" / "fund_nav.parquet", _nav(date(2026, 10, 30)).drop_columns(["nav"]))
    report = run_gates([dropped], [old], as_of=as_of)
    assert _failed(report) == {"schema_drift"} and "nav dropped" in report.summary()

    retyped = _nav(date(2026, 10, 30)).set_column(2, "nav", pa.array(["1.0", "1.1"]))
    report = run_gates([_write(tmp_path / "new" / "fund_nav.parquet", retyped)], [old], as_of=as_of)
    assert _failed(report) == {"schema_drift"} and "nav double -> string" in report.summary()

    (tmp_path / "new" / "fund_nav.parquet").rename(tmp_path / "new" / "other.parquet")
    report = run_gates([tmp_path / "new" / "other.parquet"], [old], as_of=as_of)
    assert "table dropped" in report.summary()


def test_pii_in_an_untagged_column_fails_and_a_tagged_one_passes(tmp_path):
    t = _nav(date(2026, 10, 30)).append_column("contact", pa.array(["ana@example.com", "bo@example.org"]))
    as_of = datetime(2026, 10, 30, 18)
    untagged = run_gates([_write(tmp_path / "a.parquet", t)], [], as_of=as_of)
    assert _failed(untagged) == {"untagged_pii"}
    assert "contact: 2 email" in untagged.summary()
    assert run_gates([_write(tmp_path / "b.parquet", t, pii=["contact"])], [], as_of=as_of).passed


def test_a_revision_without_assets_fails():
    assert _failed(run_gates([], [], as_of=datetime(2026, 10, 30, 18))) == {"assets"}
