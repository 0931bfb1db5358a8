"""The SOAP `login` call: what simple-salesforce uses by default (`Salesforce(username=, password=,
security_token=)`), answering with a session id and server URL, or a LoginFault.

The request body is untrusted XML: it is read with expat and refused outright when it declares a DTD or
an entity (no entity expansion, no external references), the way defusedxml does it.
"""

from __future__ import annotations

import xml.parsers.expat
from xml.sax.saxutils import escape

from twin.errors import TwinError

MAX_LOGIN_BYTES = 64_000


class SoapLoginError(TwinError, ValueError):
    """The body is not a readable SOAP login request."""


def parse_login(body: bytes) -> tuple[str, str]:
    """(username, password with the security token appended) from a SOAP login envelope."""
    if len(body) > MAX_LOGIN_BYTES:
        raise SoapLoginError(f"login request over {MAX_LOGIN_BYTES} bytes")
    parser = xml.parsers.expat.ParserCreate()
    values: dict[str, list[str]] = {}
    stack: list[str] = []

    def refuse(*_: object) -> None:
        raise SoapLoginError("DTDs and entity declarations are not accepted")

    def start(name: str, attrs: object) -> None:
        stack.append(name.rpartition(":")[2])

    def end(name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack and stack[-1] in ("username", "password"):
            values.setdefault(stack[-1], []).append(data)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except xml.parsers.expat.ExpatError as exc:
        raise SoapLoginError(f"malformed XML: {exc}") from exc
    username, password = "".join(values.get("username", [])), "".join(values.get("password", []))
    if not username:
        raise SoapLoginError("no username element in the login request")
    return username, password


_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com" xmlns:sf="urn:fault.partner.soap.sforce.com" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{}</soapenv:Body></soapenv:Envelope>'
)


def login_response(base_url: str, version: str, org_id: str, user_id: str, session_id: str) -> str:
    server = f"{base_url}/services/Soap/u/{version}/{org_id}"
    return _ENVELOPE.format(
        "<loginResponse><result>"
        f"<metadataServerUrl>{escape(base_url)}/services/Soap/m/{version}/{org_id}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{escape(server)}</serverUrl><sessionId>{escape(session_id)}</sessionId>"
        f"<userId>{user_id}</userId></result></loginResponse>"
    )


def login_fault(code: str, message: str) -> str:
    return _ENVELOPE.format(
        f"<soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{escape(code)}: {escape(message)}"
        f'</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}'
        f"</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault>"
        "</detail></soapenv:Fault>"
    )
