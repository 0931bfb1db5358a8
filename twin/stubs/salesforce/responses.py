"""The HTTP shapes of the Salesforce REST API: status codes, bodies and headers as the real API answers,
on top of the state in `models`. A WSGI application, so any WSGI server (werkzeug's, here) serves it.

Every `/services/data` call counts against the org's API limit and every response carries
`Sforce-Limit-Info: api-usage=N/M`; past the limit the call is refused with 403 REQUEST_LIMIT_EXCEEDED.
Errors are always `[{message, errorCode, fields}]` with Salesforce's codes.
"""

from __future__ import annotations

import json
import secrets
import sys
import threading
from collections import OrderedDict
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from twin.stubs.salesforce import query as soql_query
from twin.stubs.salesforce.auth import Credentials, OAuthError
from twin.stubs.salesforce.models import INTEGRATION_USER_ID, ORG_ID, Org, SalesforceError
from twin.stubs.salesforce.schema import OBJECTS, ObjectDef
from twin.stubs.salesforce.soql import SoqlError, parse
from twin.stubs.salesforce.urls import url_map

MAX_BODY_BYTES = 1_000_000
MAX_OPEN_CURSORS = 1_000  # oldest query cursors are dropped beyond this (Salesforce caps them too)


def _no_constants(name: str) -> None:
    # Python's json accepts NaN and Infinity; JSON (and Salesforce) does not
    raise ValueError(f"{name} is not valid JSON")


class _Request(Request):
    # werkzeug refuses larger bodies (form or JSON) with RequestEntityTooLarge before reading them
    max_content_length = MAX_BODY_BYTES
    max_form_memory_size = MAX_BODY_BYTES


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json;charset=UTF-8"
    )


def _error(exc: SalesforceError) -> Response:
    return _json(exc.body(), exc.status)


class SalesforceApp:
    def __init__(self, org: Org, credentials: Credentials, *, base_url: str = "") -> None:
        self.org, self.credentials = org, credentials
        self.base_url = base_url  # https://127.0.0.1:PORT, set by the server once the port is known
        self._cursors: OrderedDict[str, tuple[list[dict[str, Any]], int]] = OrderedDict()
        self._cursor_lock = threading.Lock()

    # -- WSGI ----------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = _Request(environ)
        try:
            response = self.dispatch(request)
        except RequestEntityTooLarge:
            response = _error(
                SalesforceError(413, "REQUEST_TOO_LARGE", f"request body over {MAX_BODY_BYTES} bytes")
            )
        except (
            Exception
        ) as exc:  # a bug here must still answer in Salesforce's shape, never hang or leak a trace
            print(f"salesforce stand-in: unexpected {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            response = _error(
                SalesforceError(500, "UNKNOWN_EXCEPTION", f"An unexpected error occurred: {exc}")
            )
        if "Sforce-Limit-Info" not in response.headers:  # every response carries it, errors and logins too
            self._limit_header(response, self.org.limiter.usage())
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except NotFound:
            return _json(
                [{"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}], 404
            )
        except MethodNotAllowed as exc:
            return _json(
                [
                    {
                        "message": f"HTTP Method '{request.method}' not allowed. Allowed are "
                        f"{', '.join(exc.valid_methods or [])}",
                        "errorCode": "METHOD_NOT_ALLOWED",
                    }
                ],
                405,
            )
        except HTTPException as exc:  # e.g. a redirect werkzeug wants for a trailing slash
            return exc.get_response()
        if endpoint == "token":
            return self.token(request)
        if endpoint == "soap_login":
            return self.soap_login(request, args["version"])
        counted = endpoint != "versions"
        try:
            user = self.credentials.check_token(request.headers.get("Authorization"))
            usage = self.org.limiter.take() if counted else self.org.limiter.usage()
        except SalesforceError as exc:
            response = _error(exc)
            self._limit_header(response, self.org.limiter.usage())
            return response
        try:
            response = getattr(self, endpoint)(request, user=user, **args)
        except SalesforceError as exc:
            response = _error(exc)
        self._limit_header(response, usage)
        return response

    def _limit_header(self, response: Response, usage: int) -> None:
        response.headers["Sforce-Limit-Info"] = f"api-usage={usage}/{self.org.limiter.limit}"

    def _origin(self, request: Request, version: str) -> str:
        client = ""
        options = request.headers.get("Sforce-Call-Options", "")
        for part in options.split(","):
            key, _, value = part.strip().partition("=")
            if key == "client":
                client = value
        return f"com/salesforce/api/rest/{version}" + (f";client={client}" if client else "")

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(request.get_data(cache=False) or b"null", parse_constant=_no_constants)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SalesforceError(
                400, "JSON_PARSER_ERROR", f"the request body is not valid JSON: {exc}"
            ) from exc
        if not isinstance(data, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "the request body must be a JSON object")
        return data

    # -- OAuth ---------------------------------------------------------------------------------
    def token(self, request: Request, **_: Any) -> Response:
        form = {k: v for k, v in request.form.items()}
        grant = form.get("grant_type", "")
        try:
            if grant == "password":
                self.credentials.password_grant(form)
            elif grant == "client_credentials":
                self.credentials.client_credentials_grant(form, request.headers.get("Authorization"))
            else:
                raise OAuthError("unsupported_grant_type", f"grant type not supported: {grant or '(none)'}")
        except OAuthError as exc:
            return _json({"error": exc.error, "error_description": exc.description}, 400)
        return _json(
            {
                "access_token": self.credentials.issue_token(),
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/{self.org_id}/{self.user_id}",
                "token_type": "Bearer",
                "issued_at": str(int(self.org.clock() * 1000)),
                "signature": secrets.token_urlsafe(32),
            }
        )

    def soap_login(self, request: Request, version: str) -> Response:
        from twin.stubs.salesforce.soap import SoapLoginError, login_fault, login_response, parse_login

        xml_type = "text/xml; charset=utf-8"
        try:
            username, password = parse_login(request.get_data(cache=False))
            self.credentials.soap_grant(username, password)
        except SoapLoginError as exc:
            return Response(login_fault("INVALID_LOGIN", str(exc)), status=500, content_type=xml_type)
        except OAuthError:
            message = "Invalid username, password, security token; or user locked out."
            return Response(login_fault("INVALID_LOGIN", message), status=500, content_type=xml_type)
        body = login_response(
            self.base_url, version, self.org_id, self.user_id, self.credentials.issue_token()
        )
        return Response(body, content_type=xml_type)

    org_id = ORG_ID
    user_id = INTEGRATION_USER_ID

    # -- resources -----------------------------------------------------------------------------
    def versions(self, request: Request, **_: Any) -> Response:
        v = self.org.config.api_version
        return _json([{"label": "Winter '24", "url": f"/services/data/v{v}", "version": v}])

    def limits(self, request: Request, **_: Any) -> Response:
        used = self.org.limiter.usage()
        limit = self.org.limiter.limit
        return _json({"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)}})

    def describe_global(self, request: Request, version: str, **_: Any) -> Response:
        return _json(
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [self._object_summary(o, version) for o in OBJECTS.values()],
            }
        )

    @staticmethod
    def _object_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{obj.name}"
        return {
            "name": obj.name,
            "label": obj.label,
            "labelPlural": obj.label_plural,
            "keyPrefix": obj.key_prefix,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "custom": False,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }

    def describe(self, request: Request, version: str, sobject: str, **_: Any) -> Response:
        obj = self.org.object_def(sobject)
        fields = [
            {
                "name": f.name,
                "label": f.label,
                "type": f.type,
                "length": f.length,
                "nillable": not f.required and f.name != "Id",
                "createable": f.createable,
                "updateable": f.updateable,
                "custom": f.name.endswith("__c"),
                "externalId": f.external_id,
                "unique": f.unique,
                "referenceTo": [f.reference_to] if f.reference_to else [],
                "relationshipName": f.relationship_name,
                "picklistValues": [
                    {"value": v, "label": v, "active": True, "defaultValue": False} for v in f.picklist
                ],
            }
            for f in obj.fields
        ]
        return _json({**self._object_summary(obj, version), "fields": fields})

    def create(self, request: Request, version: str, sobject: str, user: str, **_: Any) -> Response:
        record_id = self.org.create(
            sobject, self._body(request), origin=self._origin(request, version), user=user
        )
        return _json({"id": record_id, "success": True, "errors": []}, 201)

    def _fields_param(self, request: Request, obj: ObjectDef) -> list[str] | None:
        raw = request.args.get("fields")
        if not raw:
            return None
        names = []
        for name in raw.split(","):
            fdef = obj.field(name.strip())
            if fdef is None:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name.strip()}' on sobject of type {obj.name}",
                    [name.strip()],
                )
            names.append(fdef.name)
        return names

    def _record_body(
        self, request: Request, obj: ObjectDef, record: dict[str, Any], version: str
    ) -> Response:
        names = self._fields_param(request, obj)
        data = {k: v for k, v in record.items() if names is None or k in names or k == "Id"}
        return _json({"attributes": soql_query.attributes(obj, record["Id"], version), **data})

    def record(
        self, request: Request, version: str, sobject: str, record_id: str, user: str, **_: Any
    ) -> Response:
        obj = self.org.object_def(sobject)
        origin = self._origin(request, version)
        if request.method == "GET":
            return self._record_body(request, obj, self.org.get(obj.name, record_id), version)
        if request.method == "PATCH":
            self.org.update(obj.name, record_id, self._body(request), origin=origin, user=user)
            return Response(status=204)
        self.org.delete(obj.name, record_id, origin=origin, user=user)
        return Response(status=204)

    def by_external_id(
        self, request: Request, version: str, sobject: str, field: str, value: str, user: str, **_: Any
    ) -> Response:
        obj = self.org.object_def(sobject)
        origin = self._origin(request, version)
        if request.method == "PATCH":
            record_id, created = self.org.upsert(
                obj.name, field, value, self._body(request), origin=origin, user=user
            )
            if created:
                return _json({"id": record_id, "success": True, "errors": [], "created": True}, 201)
            return _json({"id": record_id, "success": True, "errors": [], "created": False}, 200)
        matches = self.org.find_by_external_id(obj.name, field, value)
        if not matches:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        if len(matches) > 1:
            urls = [soql_query.attributes(obj, m["Id"], version)["url"] for m in matches]
            return _json(urls, 300)
        if request.method == "DELETE":
            self.org.delete(obj.name, matches[0]["Id"], origin=origin, user=user)
            return Response(status=204)
        return self._record_body(request, obj, matches[0], version)

    # -- SOQL ----------------------------------------------------------------------------------
    def _batch_size(self, request: Request) -> int:
        size = self.org.config.batch_size
        for part in request.headers.get("Sforce-Query-Options", "").split(","):
            key, _, value = part.strip().partition("=")
            if key == "batchSize" and value.isdigit():
                # Salesforce honours 200..2000 and treats the value as a hint
                size = min(max(int(value), 200), 2000) if self.org.config.batch_size >= 200 else size
        return size

    def query(self, request: Request, version: str, **_: Any) -> Response:
        from datetime import UTC, datetime

        text = request.args.get("q")
        if not text:
            raise SalesforceError(400, "MALFORMED_QUERY", "the q parameter is missing: pass a SOQL statement")
        try:
            parsed = parse(text, today=datetime.fromtimestamp(self.org.clock(), UTC).date())
        except SoqlError as exc:
            raise SalesforceError(400, "MALFORMED_QUERY", str(exc)) from exc
        try:
            self.org.object_def(parsed.sobject)
        except SalesforceError as exc:
            raise SalesforceError(
                400,
                "INVALID_TYPE",
                f"sObject type '{parsed.sobject}' is not supported. "
                "If you are attempting to use a custom object, be sure to append the '__c' "
                "after the entity name.",
            ) from exc
        total, rows = soql_query.run(self.org, parsed, version)
        return self._page(rows, total, 0, self._batch_size(request), version, None)

    def query_more(self, request: Request, version: str, locator: str, **_: Any) -> Response:
        cursor_id, _sep, start_text = locator.rpartition("-")
        with self._cursor_lock:
            entry = self._cursors.get(cursor_id)
        if entry is None or not start_text.isdigit():
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        rows, size = entry
        return self._page(rows, len(rows), int(start_text), size, version, cursor_id)

    def _page(
        self,
        rows: list[dict[str, Any]],
        total: int,
        start: int,
        size: int,
        version: str,
        cursor_id: str | None,
    ) -> Response:
        page = rows[start : start + size]
        body: dict[str, Any] = {"totalSize": total, "done": start + size >= len(rows), "records": page}
        if not body["done"]:
            if cursor_id is None:
                cursor_id = "01g5g00000" + secrets.token_hex(4).upper()
                with self._cursor_lock:
                    self._cursors[cursor_id] = (rows, size)
                    while len(self._cursors) > MAX_OPEN_CURSORS:
                        self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{cursor_id}-{start + size}"
        elif cursor_id is not None:
            with self._cursor_lock:
                self._cursors.pop(cursor_id, None)
        return _json(body)
