"""Live mode: the same scenario paced in wall time, events produced through the broker port."""

from __future__ import annotations

from typing import Any

import pytest

from tests.streaming.conftest import kafka_cluster  # noqa: F401 - a fixture used below
from twin.sim.runner import RunOptions, run_scenario
from twin.sim.scenario import Scenario
from twin.sim.transport import BrokerTransport
from twin.streaming.memory import MemoryBroker


def _short(s: Scenario) -> Scenario:
    return s.model_copy(update={"duration": 120.0})


def test_realtime_paces_wall_time_by_speed_factor(small_scenario: Scenario, toy_platform: Any) -> None:
    broker = MemoryBroker(auto_create_partitions=1)
    transport = BrokerTransport(broker.producer(), max_per_emit=5)
    r = run_scenario(
        _short(small_scenario), toy_platform, RunOptions(realtime_speed=60.0, transport=transport)
    )
    transport.close()
    assert r.mode == "live"
    assert r.wall["simulation_s"] >= 120 / 60 * 0.9  # two simulated minutes at 60x take ~2 s
    # every simulated second, each source produced its capped batch of real, contract-checked events
    assert transport.sent["aladdin"] == 5 * 120 and transport.sent["trades"] == 5 * 120
    ends = broker.admin().end_offsets(
        [tp for tp in _partitions(broker, "aladdin.positions.cdc", "asset-management.trades.execution")]
    )
    assert sum(ends.values()) == 2 * 5 * 120


def _partitions(broker: MemoryBroker, *topics: str) -> list[Any]:
    from twin.streaming.port import TopicPartition

    info = broker.admin().list_topics()
    return [TopicPartition(t, p) for t in topics for p in range(info[t].partitions)]


@pytest.mark.live
def test_live_events_reach_the_real_broker(
    small_scenario: Scenario,
    toy_platform: Any,
    kafka_cluster: Any,  # noqa: F811
) -> None:
    from twin.streaming.contracts.apply import apply_topics
    from twin.streaming.kafka_adapter import KafkaBroker

    broker = KafkaBroker(kafka_cluster.bootstrap)
    apply_topics(broker.admin())
    transport = BrokerTransport(broker.producer(), max_per_emit=3)
    run_scenario(_short(small_scenario), toy_platform, RunOptions(realtime_speed=120.0, transport=transport))
    transport.close()
    ends = broker.admin().end_offsets(_kafka_partitions(broker, "asset-management.trades.execution"))
    assert sum(ends.values()) >= 3 * 120


def _kafka_partitions(broker: Any, topic: str) -> list[Any]:
    from twin.streaming.port import TopicPartition

    info = broker.admin().list_topics()[topic]
    return [TopicPartition(topic, p) for p in range(info.partitions)]
