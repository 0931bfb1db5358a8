"""The streaming contract of `Warehouse.append_bronze`: idempotent on (topic, partition, offset) however a
replayed batch overlaps what is there (the fast path for fresh batches must not let a duplicate in)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.warehouse.engine import Warehouse, offset_ranges


def _append(wh: Warehouse, keys: list[tuple[int, int]], topic: str = "t") -> int:
    return wh.append_bronze(
        "x",
        pa.table({"v": [f"{p}:{o}" for p, o in keys]}),
        source="s",
        topic=topic,
        partitions=pa.array([p for p, _ in keys], pa.int32()),
        offsets=pa.array([o for _, o in keys], pa.int64()),
    )


def test_a_partly_replayed_batch_adds_only_the_new_offsets() -> None:
    wh = Warehouse()
    assert _append(wh, [(0, 0), (0, 1), (1, 0)]) == 3
    assert _append(wh, [(0, 1), (0, 2), (1, 0), (1, 1), (2, 0)]) == 3
    assert _append(wh, [(0, 2), (2, 0)], topic="other") == 2  # same offsets, another topic: new rows
    rows = wh.con.execute("SELECT _topic, _partition, _offset FROM bronze.x ORDER BY 1, 2, 3").fetchall()
    assert rows == [
        ("other", 0, 2), ("other", 2, 0),
        ("t", 0, 0), ("t", 0, 1), ("t", 0, 2), ("t", 1, 0), ("t", 1, 1), ("t", 2, 0),
    ]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), min_size=1, max_size=30, unique=True),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_overlapping_batches_lands_each_key_once(
    batches: list[list[tuple[int, int]]],
) -> None:
    wh = Warehouse()
    total = sum(_append(wh, b) for b in batches)
    expected = {k for b in batches for k in b}
    rows = wh.con.execute("SELECT _partition, _offset FROM bronze.x").fetchall()
    assert total == len(rows) == len(expected)
    assert set(rows) == expected


def test_a_bronze_table_dropped_behind_its_back_fails_one_append_and_the_retry_recreates_it() -> None:
    # append_bronze remembers the tables it has written rather than asking the catalog every time.
    wh = Warehouse()
    assert _append(wh, [(0, 0)]) == 1
    wh.con.execute("DROP TABLE bronze.x").fetchall()
    with pytest.raises(duckdb.CatalogException):
        _append(wh, [(0, 1)])
    assert _append(wh, [(0, 1)]) == 1
    assert wh.count("bronze.x") == 1


def test_offset_ranges_are_per_partition_min_and_max_in_any_order() -> None:
    partitions = pa.array([3, 0, 3, 0, 7, 3], pa.int32())
    offsets = pa.array([12, 5, 10, 9, 0, 11], pa.int64())
    assert offset_ranges(partitions, offsets) == {3: (10, 12), 0: (5, 9), 7: (0, 0)}
