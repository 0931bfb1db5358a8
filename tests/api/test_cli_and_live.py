"""`twin token`, `twin api rotate-keys`, and `twin api serve` under uvicorn: two workers, one bucket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.redis_server import free_port
from twin.api.auth import ResourceServer, ResourceServerConfig, StaticKeySource
from twin.api.issuer import KeyStore, hash_secret
from twin.cli.main import app


def test_twin_token_prints_a_token_the_resource_server_accepts(tmp_path):
    keys = tmp_path / "keys.json"
    res = CliRunner().invoke(
        app,
        ["token", "--role", "financial_advisor", "--client", "acme", "--department", "wealth",
         "--entitlement", "F001", "--entitlement", "F002", "--ttl", "120", "--key-file", str(keys),
         "--issuer", "http://127.0.0.1:9999"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    config = ResourceServerConfig(issuer="http://127.0.0.1:9999", audiences=("twin-api",))
    p = ResourceServer(config, StaticKeySource(KeyStore(keys).jwks)).authenticate(res.output.strip())
    assert (p.role, p.client_id, p.department, p.entitlements) == ("FINANCIAL_ADVISOR", "acme", "wealth",
                                                                  ("F001", "F002"))  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "A-B", "--client", "c"], "role"),
        (["--role", "R", "--client", "c/../x"], "client"),
        (["--role", "R", "--client", "c", "--ttl", "0"], "ttl"),
    ],
)
def test_twin_token_refuses_bad_values_with_exit_2(tmp_path, args, message):
    res = CliRunner().invoke(app, ["token", *args, "--key-file", str(tmp_path / "k.json")])
    assert res.exit_code == 2 and message in res.output.lower() and "Traceback" not in res.output


def test_rotate_keys_then_tokens_carry_the_new_kid(tmp_path):
    keys = tmp_path / "keys.json"
    first = KeyStore(keys).signing_key().kid
    res = CliRunner().invoke(app, ["api", "rotate-keys", "--key-file", str(keys)])
    assert res.exit_code == 0 and first not in res.output
    assert [k["kid"] for k in KeyStore(keys).jwks()["keys"]][1] == first


def test_serve_with_several_workers_needs_redis():
    res = CliRunner().invoke(app, ["api", "serve", "--workers", "2"])
    assert res.exit_code == 2 and "--redis-url" in res.output


def test_serve_names_a_bad_rate_limit_file(tmp_path):
    bad = tmp_path / "limits.yaml"
    bad.write_text("default: {quota: -1, burst: 1}\n")
    res = CliRunner().invoke(app, ["api", "serve", "--rate-limits", str(bad)])
    assert res.exit_code == 2 and "default.quota" in res.output


def test_serve_names_a_port_that_is_taken():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = CliRunner().invoke(app, ["api", "serve", "--port", str(port)])
    assert res.exit_code == 2 and f"127.0.0.1:{port}" in res.output and "--port" in res.output


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"twin api serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("twin api serve did not become ready")


@pytest.mark.live
def test_two_uvicorn_workers_grant_one_quota_not_two(tmp_path: Path, redis_url, redis_client):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    limits = tmp_path / "limits.yaml"
    limits.write_text("clients:\n  shared: {quota: 1, period_s: 3600, burst: 20}\n")
    clients = tmp_path / "clients.yaml"
    clients.write_text(
        "clients:\n  - client_id: shared\n    secret_sha256: "
        + hash_secret("pw")
        + "\n    role: QUANT_ANALYST\n"
    )
    env = {**os.environ, "TWIN_HOME": str(tmp_path / "home")}
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin", "api", "serve", "--port", str(port), "--workers", "2",
         "--redis-url", redis_url, "--rate-limits", str(limits), "--clients", str(clients)],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )  # fmt: skip
    try:
        _wait_ready(base, proc)
        with httpx.Client(base_url=base, timeout=10) as http:
            grant = http.post(
                "/oauth2/token", data={"grant_type": "client_credentials"}, auth=("shared", "pw")
            )
            assert grant.status_code == 200, grant.text
            auth = {"Authorization": f"Bearer {grant.json()['access_token']}"}
            # fresh connections spread the requests over both workers
            statuses = [
                httpx.get(base + "/v2/whoami", headers=auth, timeout=10).status_code for _ in range(40)
            ]
            refused = http.get("/v2/whoami", headers=auth)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert statuses.count(200) == 20 and statuses.count(429) == 20, statuses
    assert refused.status_code == 429 and refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0 and refused.headers["RateLimit-Remaining"] == "0"
    assert redis_client.exists("twin:ratelimit:shared")  # the bucket the workers shared
