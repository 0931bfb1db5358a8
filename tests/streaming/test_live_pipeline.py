"""`twin pipeline run` as a real process against the real local Kafka: SIGTERM mid-stream exits 0 with
what it wrote committed, and a restart continues from there; no offset is lost or landed twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from twin.streaming.contracts.apply import apply_topics
from twin.streaming.kafka_adapter import KafkaBroker
from twin.streaming.pipeline import STATUS_FILE
from twin.streaming.port import TopicPartition
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce
from twin.warehouse.engine import Warehouse

pytestmark = pytest.mark.live
CRM = SOURCES["crm"].topic


def _pipeline(bootstrap: str, db: Path, home: Path, *extra: str) -> subprocess.Popen[str]:
    args = ["pipeline", "run", "--sources", "crm", "--database", str(db), "--bootstrap", bootstrap]
    return subprocess.Popen(
        [sys.executable, "-m", "twin", *args, "--gold-interval", "0", "--quality-interval", "0", *extra],
        env={**os.environ, "TWIN_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _status(home: Path) -> dict[str, Any]:
    path = home / STATUS_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def test_sigterm_then_restart_lands_every_offset_once(kafka_cluster: Any, tmp_path: Path) -> None:
    broker = KafkaBroker(kafka_cluster.bootstrap)
    apply_topics(broker.admin())
    home, db = tmp_path / "home", tmp_path / "wh.duckdb"
    producer = ContractProducer(broker.producer(), source="test")
    first = _pipeline(kafka_cluster.bootstrap, db, home)
    deadline = time.monotonic() + 90
    while not any(w["rows"] for w in _status(home).get("workers", [])):
        produce(producer, SOURCES["crm"], rate=1e9, count=200, seed=int(time.monotonic()))
        assert time.monotonic() < deadline and first.poll() is None, (
            first.stderr.read() if first.stderr else ""
        )
        time.sleep(0.5)
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert _status(home)["state"] == "stopped"
    produce(producer, SOURCES["crm"], rate=1e9, count=300, seed=7)  # arrives while it is down

    second = _pipeline(kafka_cluster.bootstrap, db, home, "--until-idle", "3")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    parts = broker.admin().list_topics()[CRM].partitions
    ends = broker.admin().end_offsets([TopicPartition(CRM, p) for p in range(parts)])
    with Warehouse(db) as wh:
        rows = wh.con.execute(
            "SELECT _partition, min(_offset), max(_offset), count(*), count(DISTINCT _offset) "
            "FROM bronze.crm_signals_raw GROUP BY 1"
        ).fetchall()
    assert rows
    for partition, lo, hi, n, distinct in rows:
        assert n == distinct == hi - lo + 1  # nothing twice, no gap
        assert hi == ends[TopicPartition(CRM, partition)] - 1  # through the end of the partition
