"""Cognito-shaped user tokens: real ones from moto's cognito-idp server, verified through discovery.

moto signs with its own RS256 key and serves `/{pool}/.well-known/openid-configuration` and
`jwks.json`; its tokens' `iss` is the AWS URL, so the resource server pins that issuer and reaches the
discovery document on the local endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.redis_server import free_port
from twin.api.app import create_app
from twin.api.auth import HttpKeySource, ResourceServer, ResourceServerConfig
from twin.api.problems import Unauthorized
from twin.api.ratelimit import LocalLimiter, RateLimits

pytestmark = pytest.mark.live
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pool(moto_url: str) -> dict[str, Any]:
    import boto3

    idp = boto3.client(
        "cognito-idp", region_name=REGION, endpoint_url=moto_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    pool_id = idp.create_user_pool(PoolName="clients")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="advisor-portal", ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH"]
    )["UserPoolClient"]["ClientId"]
    other_client = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="other-app")["UserPoolClient"][
        "ClientId"
    ]
    idp.create_group(UserPoolId=pool_id, GroupName="financial_advisor")
    for user, groups in (("alice", ["financial_advisor"]), ("bob", [])):
        idp.admin_create_user(UserPoolId=pool_id, Username=user, TemporaryPassword="Temp-pass-1")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=user, Password="Real-pass-1", Permanent=True)
        for g in groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName=g)

    def tokens(user: str, client: str = client_id) -> dict[str, str]:
        return idp.admin_initiate_auth(
            UserPoolId=pool_id, ClientId=client, AuthFlow="ADMIN_NO_SRP_AUTH",
            AuthParameters={"USERNAME": user, "PASSWORD": "Real-pass-1"},
        )["AuthenticationResult"]  # fmt: skip

    return {"id": pool_id, "client": client_id, "other_client": other_client, "tokens": tokens}


@pytest.fixture(scope="module")
def cognito_rs(moto_url: str, pool: dict[str, Any]) -> ResourceServer:
    config = ResourceServerConfig(
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{pool['id']}",  # pinned: moto's `iss`
        audiences=(pool["client"],),
        discovery_url=f"{moto_url}/{pool['id']}/.well-known/openid-configuration",
    )
    return ResourceServer(config, HttpKeySource(config))


def test_cognito_access_token_maps_groups_to_the_role(cognito_rs, pool):
    p = cognito_rs.authenticate(pool["tokens"]("alice")["AccessToken"])
    assert (p.role, p.client_id, p.token_use) == ("FINANCIAL_ADVISOR", pool["client"], "access")


def test_cognito_id_token_is_accepted_with_its_aud(cognito_rs, pool):
    p = cognito_rs.authenticate(pool["tokens"]("alice")["IdToken"])
    assert (p.role, p.client_id, p.token_use) == ("FINANCIAL_ADVISOR", pool["client"], "id")


def test_a_user_in_no_group_has_no_role(cognito_rs, pool):
    with pytest.raises(Unauthorized, match="role"):
        cognito_rs.authenticate(pool["tokens"]("bob")["AccessToken"])


def test_a_token_for_another_app_client_is_refused(cognito_rs, pool):
    with pytest.raises(Unauthorized, match="audience"):
        cognito_rs.authenticate(pool["tokens"]("alice", pool["other_client"])["AccessToken"])


def test_a_cognito_token_against_the_wrong_pinned_issuer_is_refused(moto_url, pool):
    config = ResourceServerConfig(
        issuer=f"https://cognito-idp.{REGION}.amazonaws.com/{pool['id']}",
        audiences=(pool["client"],),
        jwks_uri=f"{moto_url}/{pool['id']}/.well-known/jwks.json",
    )
    rs = ResourceServer(config.model_copy(update={"issuer": "https://cognito-idp.us-east-1.amazonaws.com/x"}),
                        HttpKeySource(config))  # fmt: skip
    with pytest.raises(Unauthorized, match="another issuer"):
        rs.authenticate(pool["tokens"]("alice")["AccessToken"])


def test_cognito_token_end_to_end_over_http(cognito_rs, pool):
    app = create_app(cognito_rs, LocalLimiter(RateLimits()))
    with TestClient(app) as http:
        token = pool["tokens"]("alice")["AccessToken"]
        r = http.get("/v2/whoami", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["role"] == "FINANCIAL_ADVISOR"
    assert r.headers["RateLimit-Limit"] == "50"
