"""Real Kafka for live tests: session-scoped local clusters, started only when a test asks for one and
stopped at the end of the session whatever happened.

    def test_x(kafka_cluster):   # 1 node:  kafka_cluster.bootstrap
    def test_y(kafka_cluster3):  # 3 nodes: .bootstrap, .kill(i), .restart(i) (i is 0-based)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from twin.config import paths
from twin.streaming.broker import KafkaLocalConfig, LocalKafkaCluster, install


def _cluster(nodes: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    # Cached after the first run (`make test` installs first); Maven only runs on a fresh machine.
    install(paths().cache)
    config = KafkaLocalConfig(
        nodes=nodes, data_dir=tmp_path_factory.mktemp(f"kafka{nodes}"), die_with_parent=True
    )
    cluster = LocalKafkaCluster(config=config)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    yield from _cluster(1, tmp_path_factory)


@pytest.fixture(scope="session")
def kafka_cluster3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    yield from _cluster(3, tmp_path_factory)
