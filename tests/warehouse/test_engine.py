import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twin.warehouse.bronze import load_fixtures
from twin.warehouse.engine import BronzeIsAppendOnly, Warehouse, WarehouseError


def test_batch_appends_continue_offsets() -> None:
    wh = Warehouse()
    t = pa.table({"a": [1, 2, 3]})
    assert wh.append_bronze("x", t, source="s") == 3
    assert wh.append_bronze("x", t, source="s") == 3
    offsets = [r[0] for r in wh.con.execute("SELECT _offset FROM bronze.x ORDER BY 1").fetchall()]
    assert offsets == [0, 1, 2, 3, 4, 5]


def test_stream_append_is_idempotent_on_topic_partition_offset() -> None:
    wh = Warehouse()
    t = pa.table({"a": [1, 2, 3]})
    kw = {"source": "s", "topic": "t", "partitions": pa.array([0, 0, 1]), "offsets": pa.array([5, 6, 5])}
    assert wh.append_bronze("y", t, **kw) == 3
    assert wh.append_bronze("y", t, **kw) == 0
    assert wh.count("bronze.y") == 3


def test_bronze_refuses_update_and_delete() -> None:
    wh = Warehouse()
    with pytest.raises(BronzeIsAppendOnly, match="append-only"):
        wh.update_bronze("trades_raw")
    with pytest.raises(BronzeIsAppendOnly, match="append-only"):
        wh.delete_bronze("trades_raw")


def _bronze(wh: Warehouse, table: str) -> list[tuple]:
    return wh.con.execute(f"SELECT * EXCLUDE (_ingested_at) FROM bronze.{table} ORDER BY _offset").fetchall()


def test_a_parquet_file_load_matches_the_arrow_batch_load(tmp_path: Path) -> None:
    data = pa.table({"k": ["a", "b", "c"], "v": [1.5, None, 3.0]})
    path = tmp_path / "x.parquet"
    pq.write_table(data, path)
    by_arrow, by_file = Warehouse(), Warehouse()
    for _ in range(2):  # the second load continues the topic's offsets
        assert by_arrow.append_bronze("x", data, source="s") == 3
        assert by_file.append_bronze_files([("x", path, "s")]) == {"x": 3}
    assert _bronze(by_file, "x") == _bronze(by_arrow, "x")
    assert (
        by_file.con.execute("DESCRIBE bronze.x").fetchall()
        == by_arrow.con.execute("DESCRIBE bronze.x").fetchall()
    )


def test_a_corrupt_file_rolls_back_the_whole_file_load(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), good)
    bad.write_bytes(b"PAR1 this is not parquet")
    wh = Warehouse()
    with pytest.raises(WarehouseError, match=r"corrupt fixture file .*bad\.parquet"):
        wh.append_bronze_files([("good", good, "s"), ("bad", bad, "s")])
    assert wh.tables("bronze") == []


def test_fixture_folders_whose_path_looks_like_a_pattern_still_load(tiny, tmp_path: Path) -> None:
    # DuckDB's Parquet reader expands "*" in a path: "fixtures*" would also read the sibling folder's
    # files, so such a folder is read through Arrow instead.
    odd = tmp_path / "fixtures*"
    shutil.copytree(tiny.fixtures_dir, odd)
    shutil.copytree(tiny.fixtures_dir, tmp_path / "fixtures-sibling")
    plain, patterned = Warehouse(), Warehouse()
    assert load_fixtures(patterned, odd) == load_fixtures(plain, tiny.fixtures_dir)
    assert _bronze(patterned, "trades_raw") == _bronze(plain, "trades_raw")


def test_a_file_load_of_several_row_groups_is_visible_at_once(tmp_path: Path) -> None:
    # More rows than one DuckDB row group (122,880), on a database file: the case where creating the
    # table empty and inserting in the same transaction hid the rows from later scans (the watermarks
    # the build records read them straight after the load).
    n = 130_000
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"k": pa.array(range(n), pa.int64())}), path)
    with Warehouse(tmp_path / "w.duckdb") as wh:
        assert wh.append_bronze_files([("big", path, "s")]) == {"big": n}
        assert wh.con.execute(
            "SELECT count(k), max(_offset), count(_ingested_at) FROM bronze.big"
        ).fetchall() == [(n, n - 1, n)]
