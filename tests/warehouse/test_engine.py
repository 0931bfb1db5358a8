import pyarrow as pa
import pytest

from twin.warehouse.engine import BronzeIsAppendOnly, Warehouse


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
