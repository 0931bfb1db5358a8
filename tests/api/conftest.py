"""Fixtures of the API tests: a local issuer, a resource server trusting it, an app, a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import redis_server
from twin.api.auth import ResourceServer, ResourceServerConfig, StaticKeySource
from twin.api.issuer import ClientConfig, ClientsFile, IssuerConfig, KeyStore, LocalIssuer, hash_secret

ISSUER = "https://issuer.twin.test"
AUDIENCE = "twin-api"


class FakeClock:
    def __init__(self, t: float = 1_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, s: float) -> None:
        self.t += s


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one RSA key for the session: generating one costs ~0.1 s. Tests that rotate use their own.
    path = tmp_path_factory.mktemp("issuer") / "keys.json"
    KeyStore(path).signing_key()
    return path


@pytest.fixture
def clients() -> ClientsFile:
    return ClientsFile(
        clients=(
            ClientConfig(
                client_id="acme-quant", secret_sha256=hash_secret("s3cret"), role="QUANT_ANALYST",
                department="research", entitlements=("F001", "F002"), ttl_s=600,
            ),
        )
    )  # fmt: skip


@pytest.fixture
def issuer(key_file: Path, clients: ClientsFile) -> LocalIssuer:
    return LocalIssuer(IssuerConfig(issuer=ISSUER, audience=AUDIENCE), KeyStore(key_file), clients)


@pytest.fixture
def resource_server(issuer: LocalIssuer) -> ResourceServer:
    config = ResourceServerConfig(issuer=ISSUER, audiences=(AUDIENCE,), leeway_s=5)
    return ResourceServer(config, StaticKeySource(issuer.keys.jwks))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()
