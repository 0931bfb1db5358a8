"""Provider configuration without any broker: Redpanda (no Docker here), external, the state file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from twin.cli.errors import TwinError
from twin.streaming.broker import (
    BrokerProvider,
    BrokerSettings,
    ClusterInfo,
    ExternalConfig,
    KafkaLocalConfig,
    LocalKafkaCluster,
    NodeInfo,
    RedpandaConfig,
    load_state,
    provider_for,
    save_state,
)
from twin.streaming.broker.external import ExternalProvider
from twin.streaming.broker.redpanda import RedpandaProvider, docker_unavailable_reason


def test_settings_pick_the_provider_by_name() -> None:
    assert isinstance(BrokerSettings().broker, KafkaLocalConfig)
    settings = BrokerSettings.model_validate(
        {"broker": {"provider": "external", "bootstrap_servers": "b1:9092"}}
    )
    assert isinstance(settings.broker, ExternalConfig)
    settings = BrokerSettings.model_validate({"broker": {"provider": "redpanda"}})
    assert isinstance(settings.broker, RedpandaConfig)
    with pytest.raises(ValidationError):
        BrokerSettings.model_validate({"broker": {"provider": "zookeeper"}})


def test_provider_for_returns_each_provider_behind_the_port() -> None:
    local = provider_for(KafkaLocalConfig(nodes=3))
    assert isinstance(local, LocalKafkaCluster) and local.config.nodes == 3
    assert isinstance(provider_for(RedpandaConfig()), RedpandaProvider)
    assert isinstance(provider_for(ExternalConfig(bootstrap_servers="b1:9092")), ExternalProvider)
    for cls in (LocalKafkaCluster, RedpandaProvider, ExternalProvider):
        for member in ("start", "stop", "status", "bootstrap", "info"):
            assert member in dir(cls), (cls, member)
        assert set(BrokerProvider.__annotations__) <= set(dir(cls))


def test_redpanda_image_must_be_pinned() -> None:
    with pytest.raises(ValidationError, match="tag"):
        RedpandaConfig(image="docker.redpanda.com/redpandadata/redpanda")
    assert RedpandaConfig(image="localhost:5000/redpanda:v24.2.7").image.endswith(":v24.2.7")


def test_redpanda_container_is_pinned_and_published_on_loopback_only() -> None:
    cfg = RedpandaConfig(image="docker.redpanda.com/redpandadata/redpanda:v24.2.7")
    container = RedpandaProvider(cfg).container(docker_api_version="1.44")
    assert container.image == cfg.image
    assert container.ports == {"9092": ("127.0.0.1", None), "8081": ("127.0.0.1", None)}


def test_redpanda_without_docker_says_so_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")
    assert docker_unavailable_reason() is not None
    with pytest.raises(TwinError, match=r"needs Docker.*no Docker engine is reachable.*kafka-local"):
        RedpandaProvider().start()


@pytest.mark.parametrize("bad", ["", "host", "host:port", ":9092", "a:1,b"])
def test_external_rejects_malformed_bootstrap(bad: str) -> None:
    with pytest.raises(ValidationError):
        ExternalConfig(bootstrap_servers=bad)


def test_external_keeps_client_settings_and_lists_nodes() -> None:
    cfg = ExternalConfig(
        bootstrap_servers=" b-1.msk:9098, b-2.msk:9098 ", client_config={"security.protocol": "SASL_SSL"}
    )
    provider = ExternalProvider(cfg)
    assert provider.bootstrap == "b-1.msk:9098,b-2.msk:9098"
    assert [n.address for n in provider.info.nodes] == ["b-1.msk:9098", "b-2.msk:9098"]
    assert provider.client_config()["security.protocol"] == "SASL_SSL"
    provider.stop()  # someone else's cluster: a no-op, not an error


def test_external_that_does_not_answer_fails_with_its_address() -> None:
    from twin.streaming.broker.processes import free_ports

    (port,) = free_ports(1)
    with pytest.raises(TwinError, match=f"127.0.0.1:{port}"):
        ExternalProvider(ExternalConfig(bootstrap_servers=f"127.0.0.1:{port}")).start(timeout_s=1.0)


def test_state_file_round_trips(tmp_path: Path) -> None:
    info = ClusterInfo(
        provider="kafka-local",
        bootstrap="127.0.0.1:1",
        nodes=[NodeInfo(node_id=1, port=1, controller_port=2, pid=123, data_dir=tmp_path)],
        cluster_id="abc",
    )
    path = tmp_path / "nested" / "state.json"
    save_state(info, path)
    assert load_state(path) == info
    assert load_state(tmp_path / "missing.json") is None
