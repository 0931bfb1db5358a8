"""The local issuer: discovery, JWKS, the client-credentials grant, its key file and clients file."""

from __future__ import annotations

import stat

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import AUDIENCE, ISSUER
from twin.api.app import create_app
from twin.api.issuer import ClientsFile, IssuerError, KeyStore, issuer_router
from twin.api.ratelimit import LocalLimiter, RateLimits


@pytest.fixture
def http(issuer):
    app = FastAPI()
    app.include_router(issuer_router(issuer))
    with TestClient(app) as client:
        yield client


def test_discovery_names_the_issuer_its_keys_and_token_endpoint(http):
    doc = http.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert doc["token_endpoint"] == f"{ISSUER}/oauth2/token"
    assert doc["grant_types_supported"] == ["client_credentials"]


def test_jwks_publishes_public_rsa_keys_only(http):
    (key,) = http.get("/.well-known/jwks.json").json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert {"n", "e", "kid"} <= key.keys()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()


def test_client_credentials_with_basic_auth_gives_a_token_the_api_accepts(issuer, resource_server):
    app = create_app(resource_server, LocalLimiter(RateLimits()), issuer=issuer)
    with TestClient(app) as http:
        r = http.post(
            "/oauth2/token", data={"grant_type": "client_credentials"}, auth=("acme-quant", "s3cret")
        )
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 600
        me = http.get("/v2/whoami", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() | {"issuer": None} == {
        "subject": "acme-quant", "client_id": "acme-quant", "role": "QUANT_ANALYST", "secondary_roles": [],
        "department": "research", "entitlements": ["F001", "F002"], "issuer": None, "token_use": "access",
    }  # fmt: skip


def test_client_credentials_in_the_form_body(http):
    r = http.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "acme-quant", "client_secret": "s3cret"},
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("acme-quant", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, ("nobody", "s3cret"), 401, "invalid_client"),
        ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
        ({"grant_type": "password", "username": "a", "password": "b"}, ("acme-quant", "s3cret"), 400,
         "unsupported_grant_type"),
    ],
)  # fmt: skip
def test_token_endpoint_errors_are_rfc6749_shaped(http, data, auth, status, error):
    r = http.post("/oauth2/token", data=data, auth=auth)
    assert r.status_code == status and r.json()["error"] == error
    assert "access_token" not in r.json()


def test_token_endpoint_wants_a_form(http):
    r = http.post("/oauth2/token", json={"grant_type": "client_credentials"}, auth=("acme-quant", "s3cret"))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_key_file_is_owner_only_and_rotation_keeps_the_previous_key(tmp_path):
    keys = KeyStore(tmp_path / "k" / "keys.json", keep=2)
    first = keys.signing_key()
    assert stat.S_IMODE((tmp_path / "k" / "keys.json").stat().st_mode) == 0o600
    second = keys.rotate()
    assert keys.signing_key().kid == second.kid
    assert [k["kid"] for k in keys.jwks()["keys"]] == [second.kid, first.kid]
    third = keys.rotate()
    assert [k["kid"] for k in keys.jwks()["keys"]] == [third.kid, second.kid]
    # another process (twin token) reading the same file sees the same signing key
    assert KeyStore(tmp_path / "k" / "keys.json").signing_key().kid == third.kid


def test_a_corrupt_key_file_is_a_clear_error(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(IssuerError, match="not an issuer key file"):
        KeyStore(path).signing_key()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("clients:\n  - client_id: a\n    secret_sha256: abc\n    role: R\n", "clients.0.secret_sha256"),
        ("clients:\n  - client_id: a\n    secret_sha256: " + "ab" * 32 + "\n    role: 'R; DROP'\n",
         "clients.0.role"),
        ("clients:\n  - client_id: a\n    secret_sha256: " + "ab" * 32 + "\n    role: R\n    colour: red\n",
         "clients.0.colour"),
        ("clients: [\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_clients_file_errors_name_the_field(tmp_path, text, message):
    path = tmp_path / "clients.yaml"
    path.write_text(text)
    with pytest.raises(IssuerError, match=message.replace(".", r"\.")):
        ClientsFile.load(path)


def test_mint_refuses_values_the_resource_server_would_refuse(issuer):
    with pytest.raises(IssuerError, match="role"):
        issuer.mint(role="no-dashes", client_id="c")
    with pytest.raises(IssuerError, match="ttl"):
        issuer.mint(role="R", client_id="c", ttl_s=0)
    with pytest.raises(IssuerError, match="entitlement"):
        issuer.mint(role="R", client_id="c", entitlements=["ok", "../etc"])
    assert issuer.config.audience == AUDIENCE


def test_workers_racing_to_create_the_key_file_end_up_with_one_key(tmp_path):
    path = tmp_path / "keys.json"
    a, b = KeyStore(path), KeyStore(path)
    a._create()
    b._create()  # lost the race: keeps the winner's key
    assert a.signing_key().kid == b.signing_key().kid
    assert len(a.jwks()["keys"]) == 1 and [p.name for p in tmp_path.iterdir()] == ["keys.json"]
