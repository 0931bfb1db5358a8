"""The router in front of moto: one AWS endpoint, SigV4 checked, Data Exchange served by twin, every call
in a CloudTrail-like trail.

A request is routed by its SigV4 credential scope, the way AWS's own front door reads it: `dataexchange`
goes to twin's Data Exchange service (no emulator has one), everything else to moto's WSGI app in the
same process. Before either sees it, the signature is verified against the known local keys; an
unsigned, unknown-key or wrong-secret request is answered 403 here and never reaches a service.
moto's own control plane (`/moto-api/…`: reset, config, state) is unsigned in moto; here it needs a
signature from a key of an admin account (the provider's), like any other call, so a subscriber's key
or an unsigned local request cannot reset or reconfigure the emulator.

Each call appends one `aws_call` record (who: account, key and principal name; what: service,
operation, method, path; when; request id; outcome and error code) to a hash-chained `AuditLog` of its
own, so the trail verifies and seals exactly like the warehouse audit.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twin.governance.audit import AuditLog
from twin.stubs.adx.faults import FaultPlan, FaultRule
from twin.stubs.adx.models import AdxError, DataExchangeBackend
from twin.stubs.adx.responses import error_response as adx_error
from twin.stubs.adx.responses import handle as adx_handle
from twin.stubs.adx.urls import resolve
from twin.stubs.aws.sigv4 import CredentialStore, SignatureError, SignedRequest, verify_request

__all__ = ["AUDIT_KIND", "AwsRouter"]

AUDIT_KIND = "aws_call"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Largest request body the router buffers (it must read the body to check the payload hash).
MAX_BODY = 512 * 1024 * 1024
_XML_ERRORS = frozenset({"s3"})
# twin's own control route (fault injection), signed like any call; never a real AWS path.
FAULTS_PATH = "/_twin/adx-faults"


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in environ.items():
        if k.startswith("HTTP_"):
            out[k[5:].replace("_", "-").lower()] = str(v)
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        out["content-length"] = environ["CONTENT_LENGTH"]
    return out


def _raw_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return urlsplit(raw).path or "/"
    from urllib.parse import quote

    return quote(environ.get("PATH_INFO", "/"))


def _operation(method: str, path: str, headers: dict[str, str], query: str, body: bytes) -> str:
    """A CloudTrail-style event name: from X-Amz-Target (json protocols), Action (query), else the route."""
    target = headers.get("x-amz-target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = parse_qs(query).get("Action")
    if not action and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return action[0]
    return f"{method} {path}"


class AwsRouter:
    """The WSGI app the endpoint serves."""

    def __init__(
        self,
        moto_app: WsgiApp,
        adx: DataExchangeBackend,
        credentials: CredentialStore,
        audit: AuditLog | None = None,
        *,
        admin_accounts: frozenset[str] = frozenset(),
    ) -> None:
        self.moto_app = moto_app
        self.adx = adx
        self.credentials = credentials
        self.audit = audit
        self.admin_accounts = admin_accounts
        self.adx_faults = FaultPlan()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = _raw_path(environ)
        request_id = str(uuid.uuid4())
        method = environ.get("REQUEST_METHOD", "GET")
        query = environ.get("QUERY_STRING", "")
        headers = _headers(environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return self._refuse(
                start_response,
                "unknown",
                request_id,
                method,
                path,
                headers,
                SignatureError("InvalidRequest", f"Content-Length must be 0..{MAX_BODY}"),
            )
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            signed = verify_request(
                self.credentials, method=method, raw_path=path, raw_query=query, headers=headers, body=body
            )
        except SignatureError as e:
            service = _scope_service(headers.get("authorization", ""))
            return self._refuse(start_response, service, request_id, method, path, headers, e)
        if path.startswith("/moto-api") and signed.credential.account_id not in self.admin_accounts:
            denied = SignatureError(
                "AccessDeniedException", "moto's control plane needs a key of the provider account"
            )
            return self._refuse(start_response, signed.service, request_id, method, path, headers, denied)
        operation = _operation(method, path, headers, query, body)
        if path.startswith(FAULTS_PATH):
            return self._faults(start_response, signed, method, body, request_id, environ)
        if signed.service == "dataexchange":
            route = resolve(method, path)
            op = route[0] if route else None
            fault = self.adx_faults.take(op)
            if fault is not None:
                resp = adx_error(
                    AdxError(fault, f"injected fault: {fault}"),
                    op,
                    {"x-amzn-RequestId": request_id, "Content-Type": "application/json"},
                )
            else:
                resp = adx_handle(
                    self.adx,
                    signed.credential.account_id,
                    method=method,
                    raw_path=path,
                    query=parse_qs(query, keep_blank_values=True),
                    body=body,
                    request_id=request_id,
                )
            self._record(
                signed,
                resp.operation or operation,
                method,
                path,
                request_id,
                resp.status,
                resp.error_code,
                environ,
            )
            start_response(f"{resp.status} {_reason(resp.status)}", list(resp.headers.items()))
            return [resp.body]
        environ["wsgi.input"] = io.BytesIO(body)
        seen: dict[str, Any] = {}

        def capture(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status.split(" ", 1)[0])
            seen["headers"] = {k.lower(): v for k, v in response_headers}
            return start_response(status, response_headers, exc_info)

        chunks = list(self.moto_app(environ, capture))
        status = seen.get("status", 500)
        hdrs = seen.get("headers", {})
        error = hdrs.get("x-amzn-errortype", "").split(":", 1)[0] or (
            _xml_code(chunks) if status >= 400 else None
        )
        rid = hdrs.get("x-amzn-requestid") or hdrs.get("x-amz-request-id") or request_id
        self._record(signed, operation, method, path, rid, status, error or None, environ)
        return chunks

    def _faults(
        self,
        start_response: Callable[..., Any],
        signed: SignedRequest,
        method: str,
        body: bytes,
        request_id: str,
        environ: dict[str, Any],
    ) -> Iterable[bytes]:
        """Add (POST), count (GET) or clear (DELETE) injected Data Exchange faults; provider accounts only."""
        if signed.credential.account_id not in self.admin_accounts:
            e = SignatureError("AccessDeniedException", "fault injection needs a key of the provider account")
            return self._refuse(start_response, signed.service, request_id, method, FAULTS_PATH, {}, e)
        status = 200
        doc: dict[str, Any] = {}
        try:
            if method == "POST":
                self.adx_faults.add(FaultRule.model_validate_json(body))
            elif method == "DELETE":
                self.adx_faults.clear()
            elif method != "GET":
                status, doc = 405, {"message": "use POST, GET or DELETE"}
        except ValueError as e:
            status, doc = 400, {"message": str(e).splitlines()[0]}
        if status == 200:
            doc = {"pending": self.adx_faults.pending()}
        self._record(signed, f"{method} faults", method, FAULTS_PATH, request_id, status, None, environ)
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        start_response(f"{status} {_reason(status)}", headers)
        return [json.dumps(doc).encode()]

    def _record(
        self,
        signed: SignedRequest,
        operation: str,
        method: str,
        path: str,
        request_id: str,
        status: int,
        error: str | None,
        environ: dict[str, Any],
    ) -> None:
        if self.audit is None:
            return
        self.audit.append(
            AUDIT_KIND,
            request_id=request_id,
            account=signed.credential.account_id,
            access_key_id=signed.credential.access_key_id,
            principal=signed.credential.name,
            service=signed.service,
            region=signed.region,
            operation=operation,
            method=method,
            path=path,
            status=status,
            outcome="success" if status < 400 else "error",
            error_code=error,
            source_ip=environ.get("REMOTE_ADDR"),
        )

    def _refuse(
        self,
        start_response: Callable[..., Any],
        service: str,
        request_id: str,
        method: str,
        path: str,
        headers: dict[str, str],
        e: SignatureError,
    ) -> Iterable[bytes]:
        if self.audit is not None:
            key = headers.get("authorization", "").split("Credential=", 1)[-1].split("/", 1)[0][:128] or None
            self.audit.append(
                AUDIT_KIND,
                request_id=request_id,
                account=None,
                access_key_id=key,
                principal=None,
                service=service,
                region=None,
                operation=None,
                method=method,
                path=path,
                status=403,
                outcome="denied",
                error_code=e.code,
                reason=e.message,
            )
        if service in _XML_ERRORS:
            body = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{e.code}</Code>"
                f"<Message>{_xml(e.message)}</Message><RequestId>{request_id}</RequestId></Error>"
            ).encode()
            ctype = "application/xml"
        else:
            body = json.dumps({"message": e.message, "__type": e.code}).encode()
            ctype = "application/json"
        start_response(
            "403 Forbidden",
            [("Content-Type", ctype), ("x-amzn-ErrorType", e.code), ("x-amzn-RequestId", request_id)],
        )
        return [body]


def _scope_service(auth: str) -> str:
    try:
        return auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
    except IndexError:
        return "unknown"


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_code(chunks: list[bytes]) -> str | None:
    text = b"".join(chunks)[:4096].decode("utf-8", "replace")
    start = text.find("<Code>")
    end = text.find("</Code>", start)
    return text[start + 6 : end] if start >= 0 and end > start else None


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
