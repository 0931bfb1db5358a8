"""The WSGI app under random requests (in-process, no sockets): whatever the method, path, query or
body, the answer is a Salesforce-shaped response with a known status, never an unexpected exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from tests.stubs.salesforce.conftest import seed
from twin.stubs.salesforce.auth import Credentials
from twin.stubs.salesforce.models import Org, OrgConfig
from twin.stubs.salesforce.responses import SalesforceApp

SEGMENTS = [
    "Account",
    "Contract",
    "Opportunity",
    "Lead",
    "describe",
    "Client_Id__c",
    "CLI001",
    "Id",
    "001A0000006Vm9rIAC",
    "0015g0000000001AAA",
    "query",
    "sobjects",
    "%00",
    "..",
    "x" * 20,
]
SOQL_WORDS = [
    "SELECT",
    "Id",
    "Name",
    "Account.Name",
    "FROM",
    "Contract",
    "Account",
    "WHERE",
    "=",
    "'x'",
    "AND",
    "OR",
    "NOT",
    "(",
    ")",
    ",",
    "IN",
    "LIKE",
    "'%a'",
    "2025-01-01",
    "TODAY",
    "LIMIT",
    "5",
    "ORDER",
    "BY",
    "DESC",
    "null",
    "COUNT()",
    "OFFSET",
    "LAST_N_DAYS:3",
    "<",
    ">=",
]
BODIES = st.one_of(
    st.binary(max_size=64),
    st.dictionaries(
        st.sampled_from(
            ["Name", "AccountId", "Status", "StartDate", "Amount", "Type", "Id", "Bogus__c", "attributes"]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(allow_nan=True),
            st.text(max_size=12),
            st.lists(st.integers(), max_size=2),
        ),
        max_size=4,
    ).map(lambda d: json.dumps(d).encode()),
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> tuple[Client, str]:
    org = Org(None, config=OrgConfig(api_limit=1_000_000), clock=lambda: 1_795_000_000.0)
    org.seed(*seed())
    creds = Credentials.generate()
    app = SalesforceApp(org, creds, base_url="https://127.0.0.1:1")
    del tmp_path_factory
    return Client(app), creds.issue_token()


@settings(
    derandomize=True,
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["GET", "POST", "PATCH", "DELETE", "PUT"]),
    segments=st.lists(st.sampled_from(SEGMENTS), max_size=4),
    soql=st.lists(st.sampled_from(SOQL_WORDS), max_size=12).map(" ".join),
    body=BODIES,
    authorised=st.booleans(),
)
def test_any_request_gets_a_salesforce_shaped_answer(
    client: tuple[Client, str], method: str, segments: list[str], soql: str, body: bytes, authorised: bool
) -> None:
    http, token = client
    path = "/services/data/v59.0/" + "/".join(segments)
    headers = {"Authorization": f"Bearer {token}"} if authorised else {}
    response = http.open(
        path,
        method=method,
        query_string={"q": soql},
        data=body,
        headers=headers,
        content_type="application/json",
    )
    assert response.status_code in (200, 201, 204, 300, 400, 401, 403, 404, 405, 413), response.get_data()
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
    if response.status_code >= 400:
        errors = json.loads(response.get_data())
        assert errors[0]["errorCode"] != "UNKNOWN_EXCEPTION" and errors[0]["message"]
