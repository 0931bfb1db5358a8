"""The resource server refuses every malformed, forged, misdirected or stale token, and says why."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import AUDIENCE, ISSUER, FakeClock
from twin.api.app import create_app
from twin.api.auth import HttpKeySource, ResourceServer, ResourceServerConfig, StaticKeySource
from twin.api.issuer import IssuerConfig, KeyStore, LocalIssuer
from twin.api.problems import ServiceUnavailable, Unauthorized
from twin.api.ratelimit import LocalLimiter, RateLimits


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300,
        "token_use": "access", "client_id": "acme", "role": "FINANCIAL_ADVISOR", "department": "wealth",
        "entitlements": ["F001"],
    }  # fmt: skip
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(issuer: LocalIssuer, claims: dict[str, Any], **headers: Any) -> str:
    key = issuer.keys.signing_key()
    return jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid, **headers})


def _public_pem(issuer: LocalIssuer) -> bytes:
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(issuer.keys.signing_key().private_pem.encode(), None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _forged(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    return signing_input + "." + _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def test_a_valid_token_maps_to_its_principal(issuer, resource_server):
    p = resource_server.authenticate(_signed(issuer, _claims()))
    assert (p.subject, p.client_id, p.role, p.department, p.entitlements) == (
        "alice", "acme", "FINANCIAL_ADVISOR", "wealth", ("F001",),
    )  # fmt: skip
    assert p.issuer == ISSUER


def test_issuer_minted_tokens_verify(issuer, resource_server):
    token = issuer.mint(role="retail_teller", client_id="branch-7", department="retail", ttl_s=60)
    p = resource_server.authenticate(token)
    assert (p.role, p.client_id, p.department) == ("RETAIL_TELLER", "branch-7", "retail")


NEGATIVES = {
    "expired": lambda i: _signed(i, _claims(exp=int(time.time()) - 120)),
    "not yet valid": lambda i: _signed(i, _claims(nbf=int(time.time()) + 120)),
    "issued in the future": lambda i: _signed(i, _claims(iat=int(time.time()) + 120)),
    "wrong audience": lambda i: _signed(i, _claims(aud="another-api")),
    "no audience": lambda i: _signed(i, _claims(aud=None, token_use="id")),
    "wrong issuer": lambda i: _signed(i, _claims(iss="https://evil.test")),
    "bad signature": lambda i: _tamper(_signed(i, _claims())),
    "signed by another key with a known kid": lambda i: _other_key(i),
    "alg none": lambda i: _forged({"alg": "none", "kid": i.keys.signing_key().kid}, _claims(), None),
    "HS256 with the public key": lambda i: _forged(
        {"alg": "HS256", "kid": i.keys.signing_key().kid, "typ": "JWT"}, _claims(), _public_pem(i)
    ),
    "unknown kid": lambda i: _signed(i, _claims(), kid="no-such-key"),
    "no kid": lambda i: _forged({"alg": "RS256"}, _claims(), b"x"),
    "missing role": lambda i: _signed(i, _claims(role=None)),
    "missing sub": lambda i: _signed(i, _claims(sub=None)),
    "missing exp": lambda i: _signed(i, _claims(exp=None)),
    "missing client_id": lambda i: _signed(i, _claims(client_id=None)),
    "role that is not a role name": lambda i: _signed(i, _claims(role="ADMIN' OR 1=1 --")),
    "entitlements not a list": lambda i: _signed(i, _claims(entitlements="F001")),
    "token_use refresh": lambda i: _signed(i, _claims(token_use="refresh")),
    "garbage": lambda i: "not-a-jwt",
}


def _tamper(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["role"] = "SYSADMIN"
    return f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"


def _other_key(i: LocalIssuer) -> str:
    other = KeyStore(Path(i.keys.path).parent / "other-keys.json")
    return jwt.encode(
        _claims(),
        other.signing_key().private_pem,
        algorithm="RS256",
        headers={"kid": i.keys.signing_key().kid},
    )


@pytest.mark.parametrize("case", sorted(NEGATIVES))
def test_every_bad_token_is_refused(case, issuer, resource_server):
    with pytest.raises(Unauthorized):
        resource_server.authenticate(NEGATIVES[case](issuer))


@pytest.mark.parametrize("case", sorted(NEGATIVES))
def test_every_bad_token_is_a_401_problem_over_http(case, issuer, resource_server):
    app = create_app(resource_server, LocalLimiter(RateLimits()))
    with TestClient(app) as http:
        r = http.get("/v2/whoami", headers={"Authorization": f"Bearer {NEGATIVES[case](issuer)}"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/unauthorized") and body["status"] == 401
    assert "Traceback" not in r.text and 'Bearer error="invalid_token"' in r.headers["www-authenticate"]


@pytest.mark.parametrize("header", [None, "Basic YTpi", "Bearer", "Bearer   "])
def test_a_missing_or_malformed_authorization_header_is_401(header, resource_server):
    app = create_app(resource_server, LocalLimiter(RateLimits()))
    with TestClient(app) as http:
        r = http.get("/v2/whoami", headers={"Authorization": header} if header else {})
    assert r.status_code == 401 and r.json()["type"].endswith("/unauthorized")


def test_leeway_accepts_small_clock_skew(issuer, resource_server):
    # 3 s in the future is within the 5 s leeway of the fixture's resource server
    resource_server.authenticate(_signed(issuer, _claims(nbf=int(time.time()) + 3)))


def test_rotation_reaches_the_resource_server_through_an_unknown_kid(tmp_path):
    clock = FakeClock()
    keys = KeyStore(tmp_path / "keys.json", keep=2)
    issuer = LocalIssuer(IssuerConfig(issuer=ISSUER, audience=AUDIENCE), keys)
    config = ResourceServerConfig(issuer=ISSUER, audiences=(AUDIENCE,), jwks_min_refresh_s=10, jwks_ttl_s=60)
    rs = ResourceServer(config, StaticKeySource(keys.jwks), clock=clock)
    old = issuer.mint(role="QUANT_ANALYST", client_id="c")
    rs.authenticate(old)
    assert rs.fetches == 1
    keys.rotate()
    new = issuer.mint(role="QUANT_ANALYST", client_id="c")
    clock.advance(11)
    rs.authenticate(new)  # unknown kid → one refetch
    assert rs.fetches == 2
    rs.authenticate(old)  # the previous key stays published until it leaves the `keep` window
    keys.rotate()
    keys.rotate()
    clock.advance(61)  # the cached key set expires; the retired key is gone from the fresh one
    with pytest.raises(Unauthorized):
        rs.authenticate(old)


def test_unknown_kids_do_not_hammer_the_issuer(issuer):
    clock = FakeClock()
    config = ResourceServerConfig(issuer=ISSUER, audiences=(AUDIENCE,), jwks_min_refresh_s=30)
    rs = ResourceServer(config, StaticKeySource(issuer.keys.jwks), clock=clock)
    for n in range(50):
        with pytest.raises(Unauthorized):
            rs.authenticate(_signed(issuer, _claims(), kid=f"made-up-{n}"))
    assert rs.fetches == 1


def _mock_idp(issuer: LocalIssuer, *, discovery_issuer: str = ISSUER) -> httpx.MockTransport:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={**issuer.discovery(), "issuer": discovery_issuer})
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json=issuer.keys.jwks())
        return httpx.Response(404)

    transport = httpx.MockTransport(handler)
    transport.calls = calls  # type: ignore[attr-defined]
    return transport


def test_discovery_then_jwks_over_http_and_cached(issuer):
    transport = _mock_idp(issuer)
    config = ResourceServerConfig(issuer=ISSUER, audiences=(AUDIENCE,))
    rs = ResourceServer(config, HttpKeySource(config, transport=transport))
    for _ in range(3):
        rs.authenticate(_signed(issuer, _claims()))
    assert transport.calls == ["/.well-known/openid-configuration", "/.well-known/jwks.json"]


def test_a_discovery_document_for_another_issuer_is_refused(issuer):
    config = ResourceServerConfig(issuer=ISSUER, audiences=(AUDIENCE,))
    transport = _mock_idp(issuer, discovery_issuer="https://evil.test")
    rs = ResourceServer(config, HttpKeySource(config, transport=transport))
    with pytest.raises(ServiceUnavailable):
        rs.authenticate(_signed(issuer, _claims()))


def test_an_unreachable_identity_provider_is_a_503_problem(issuer):
    config = ResourceServerConfig(issuer=ISSUER, audiences=(AUDIENCE,))
    transport = httpx.MockTransport(lambda r: (_ for _ in ()).throw(httpx.ConnectError("refused")))
    app = create_app(
        ResourceServer(config, HttpKeySource(config, transport=transport)), LocalLimiter(RateLimits())
    )
    with TestClient(app) as http:
        r = http.get("/v2/whoami", headers={"Authorization": f"Bearer {_signed(issuer, _claims())}"})
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"


def test_an_issuer_outage_after_the_first_fetch_keeps_the_known_keys(issuer):
    clock = FakeClock()
    up = {"ok": True}

    def handler(request: httpx.Request) -> httpx.Response:
        if not up["ok"]:
            return httpx.Response(502)
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json=issuer.discovery())
        return httpx.Response(200, json=issuer.keys.jwks())

    config = ResourceServerConfig(issuer=ISSUER, audiences=(AUDIENCE,), jwks_ttl_s=60, jwks_min_refresh_s=10)
    rs = ResourceServer(config, HttpKeySource(config, transport=httpx.MockTransport(handler)), clock=clock)
    token = _signed(issuer, _claims())
    rs.authenticate(token)
    up["ok"] = False
    clock.advance(61)  # the key set is due for a refresh and the issuer is down
    rs.authenticate(token)
    with pytest.raises(Unauthorized):  # a new kid cannot be learnt while it is down
        rs.authenticate(_signed(issuer, _claims(), kid="rotated"))
    up["ok"] = True
    clock.advance(11)
    rs.authenticate(token)
    assert rs.fetches == 2


B64URL = string.ascii_letters + string.digits + "-_="
_json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.lists(st.integers())
)
_headers = st.fixed_dictionaries(
    {"alg": st.one_of(st.sampled_from(["RS256", "none", "HS256", "ES256", "RS512"]), _json_values)},
    optional={"kid": _json_values, "typ": _json_values, "jku": st.text(max_size=30)},
)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    token=st.one_of(
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300),
        st.lists(st.text(alphabet=B64URL, max_size=80), min_size=3, max_size=3).map(".".join),
        st.tuples(_headers, st.dictionaries(st.text(max_size=10), _json_values, max_size=5)).map(
            lambda hc: _forged(hc[0], hc[1], b"k")
        ),
    )
)
def test_any_bearer_value_is_a_401_never_a_500(token, resource_server):
    with pytest.raises(Unauthorized):
        resource_server.authenticate(token)
