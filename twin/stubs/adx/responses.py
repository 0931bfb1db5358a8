"""Data Exchange HTTP shapes: rest-json requests in, rest-json responses and errors out.

Inputs are read the way botocore writes them (URI labels, query string, JSON body) and checked against
the service model's required members and enums before any state is touched. Errors carry the model's
status code, `x-amzn-ErrorType` (botocore reads the error code from it) and `x-amzn-RequestId`, with the
error shape's members (`Message`, `ResourceId`, `ResourceType`) in the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from twin.stubs.adx.models import AdxError, Asset, DataExchangeBackend, DataGrant, DataSet, Job, Revision
from twin.stubs.adx.urls import resolve, service_model

__all__ = ["AdxResponse", "error_response", "handle"]

DEFAULT_PAGE = 25
MAX_PAGE = 200  # the model's MaxResults bound for the list operations here


class AdxResponse(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: int
    operation: str | None
    body: bytes
    error_code: str | None = None
    headers: dict[str, str]


def _ts(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _data_set(ds: DataSet, origin: str, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Arn": ds.arn,
        "AssetType": ds.asset_type,
        "CreatedAt": _ts(ds.created_at),
        "Description": ds.description,
        "Id": ds.id,
        "Name": ds.name,
        "Origin": origin,
        "UpdatedAt": _ts(ds.updated_at),
    }
    if origin == "ENTITLED":
        out["SourceId"] = ds.id
        out["OriginDetails"] = {"ProductId": ds.id}
    if full and origin == "OWNED":
        out["Tags"] = ds.tags
    return out


def _revision(r: Revision, *, tags: bool = True) -> dict[str, Any]:
    return _clean(
        {
            "Arn": r.arn,
            "Comment": r.comment,
            "CreatedAt": _ts(r.created_at),
            "DataSetId": r.data_set_id,
            "Finalized": r.finalized,
            "Id": r.id,
            "UpdatedAt": _ts(r.updated_at),
            "Revoked": False,
            "Tags": r.tags if tags else None,
        }
    )


def _asset(a: Asset) -> dict[str, Any]:
    return {
        "Arn": a.arn,
        "AssetDetails": {"S3SnapshotAsset": {"Size": float(a.size)}},
        "AssetType": "S3_SNAPSHOT",
        "CreatedAt": _ts(a.created_at),
        "DataSetId": a.data_set_id,
        "Id": a.id,
        "Name": a.name,
        "RevisionId": a.revision_id,
        "UpdatedAt": _ts(a.updated_at),
    }


def _job(j: Job) -> dict[str, Any]:
    return _clean(
        {
            "Arn": j.arn,
            "CreatedAt": _ts(j.created_at),
            "Details": j.details,
            "Errors": j.errors or None,
            "Id": j.id,
            "State": j.state,
            "Type": j.type,
            "UpdatedAt": _ts(j.updated_at),
        }
    )


def _grant(g: DataGrant, *, sent: bool, full: bool = True) -> dict[str, Any]:
    out = _clean(
        {
            "Name": g.name,
            "SenderPrincipal": g.sender,
            "ReceiverPrincipal": g.receiver,
            "Description": g.description if full else None,
            "AcceptanceState": g.acceptance_state,
            "AcceptedAt": _ts(g.accepted_at),
            "EndsAt": _ts(g.ends_at),
            "GrantDistributionScope": g.scope if full else None,
            "DataSetId": g.source_data_set_id,
            "Id": g.id,
            "Arn": g.arn,
            "CreatedAt": _ts(g.created_at),
            "UpdatedAt": _ts(g.updated_at),
        }
    )
    if sent:
        out["SourceDataSetId"] = g.source_data_set_id
        if full:
            out["Tags"] = g.tags
    return out


def _page(items: list[Any], params: dict[str, Any], key: str, render: Callable[[Any], Any]) -> dict[str, Any]:
    try:
        start = int(params.get("NextToken") or 0)
    except ValueError:
        raise AdxError("ValidationException", "NextToken is not one this service issued") from None
    try:
        size = int(params.get("MaxResults") or DEFAULT_PAGE)
    except ValueError:
        raise AdxError("ValidationException", "MaxResults must be a whole number from 1 to 200") from None
    if not 1 <= size <= MAX_PAGE or start < 0:
        raise AdxError(
            "ValidationException", "MaxResults must be from 1 to 200, NextToken one this service issued"
        )
    chunk = items[start : start + size]
    out: dict[str, Any] = {key: [render(i) for i in chunk]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def _parse_time(v: Any, field: str) -> datetime | None:
    if v is None:
        return None
    try:
        if isinstance(v, int | float):
            from datetime import UTC

            return datetime.fromtimestamp(v, UTC)
        return datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        raise AdxError("ValidationException", f"{field} is not a timestamp: {v!r}") from None


def _dispatch(b: DataExchangeBackend, account: str, op: str, p: dict[str, Any]) -> tuple[Any, int | None]:
    """The operation's output document (None: no body) and, when it differs from the model's, a status."""
    if op == "CreateDataSet":
        ds = b.create_data_set(
            account,
            name=p["Name"],
            description=p["Description"],
            asset_type=p["AssetType"],
            tags=p.get("Tags"),
        )
        return _data_set(ds, "OWNED"), None
    if op == "GetDataSet":
        ds = b.get_data_set(account, p["DataSetId"])
        return _data_set(ds, b.origin(account, ds)), None
    if op == "ListDataSets":
        sets = b.list_data_sets(account, p.get("Origin"))
        return _page(sets, p, "DataSets", lambda d: _data_set(d, b.origin(account, d), full=False)), None
    if op == "CreateRevision":
        return _revision(
            b.create_revision(account, p["DataSetId"], comment=p.get("Comment"), tags=p.get("Tags"))
        ), None
    if op == "GetRevision":
        return _revision(b.get_revision(account, p["DataSetId"], p["RevisionId"])), None
    if op == "UpdateRevision":
        r = b.update_revision(
            account, p["DataSetId"], p["RevisionId"], comment=p.get("Comment"), finalized=p.get("Finalized")
        )
        return _revision(r, tags=False), None
    if op == "ListDataSetRevisions":
        return _page(
            b.list_revisions(account, p["DataSetId"]), p, "Revisions", lambda r: _revision(r, tags=False)
        ), None
    if op == "ListRevisionAssets":
        return _page(b.list_assets(account, p["DataSetId"], p["RevisionId"]), p, "Assets", _asset), None
    if op == "CreateJob":
        return _job(b.create_job(account, job_type=p["Type"], details=p["Details"])), None
    if op == "StartJob":
        b.start_job(account, p["JobId"])
        return {}, None
    if op == "GetJob":
        return _job(b.get_job(account, p["JobId"])), None
    if op == "CreateDataGrant":
        g = b.create_data_grant(
            account,
            name=p["Name"],
            receiver=p["ReceiverPrincipal"],
            source_data_set_id=p["SourceDataSetId"],
            scope=p["GrantDistributionScope"],
            ends_at=_parse_time(p.get("EndsAt"), "EndsAt"),
            description=p.get("Description"),
            tags=p.get("Tags"),
        )
        return _grant(g, sent=True), None
    if op == "GetDataGrant":
        return _grant(b.get_data_grant(account, p["DataGrantId"]), sent=True), None
    if op == "ListDataGrants":
        grants = b.list_data_grants(account)
        return _page(grants, p, "DataGrantSummaries", lambda g: _grant(g, sent=True, full=False)), None
    if op == "DeleteDataGrant":
        b.delete_data_grant(account, p["DataGrantId"])
        return None, None
    if op == "ListReceivedDataGrants":
        grants = b.list_received_grants(account, p.get("AcceptanceState"))
        return _page(grants, p, "DataGrantSummaries", lambda g: _grant(g, sent=False, full=False)), None
    if op == "GetReceivedDataGrant":
        return _grant(b.get_received_grant(account, p["DataGrantArn"]), sent=False), None
    if op == "AcceptDataGrant":
        return _grant(b.accept_data_grant(account, p["DataGrantArn"]), sent=False), None
    raise AdxError(
        "ValidationException", f"{op} is part of the Data Exchange API but not served by this stand-in"
    )


def _params(op: str, labels: dict[str, str], query: dict[str, list[str]], body: bytes) -> dict[str, Any]:
    shape = service_model().operation_model(op).input_shape
    params: dict[str, Any] = {}
    if shape is None:
        return params
    doc: Any = {}
    if body.strip():
        try:
            doc = json.loads(body)
        except ValueError:
            raise AdxError("ValidationException", "the request body is not JSON") from None
        if not isinstance(doc, dict):
            raise AdxError("ValidationException", "the request body must be a JSON object")
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri":
            if wire in labels:
                params[name] = labels[wire]
        elif where == "querystring":
            if wire in query:
                values = query[wire]
                params[name] = values if member.type_name == "list" else values[-1]
        elif where is None and name in doc:
            params[name] = doc[name]
    for name, value in params.items():
        kind = shape.members[name].type_name
        want = _TYPES.get(kind)
        # Query-string and URI values arrive as strings; booleans, numbers, maps and lists come from JSON.
        if (
            want is not None
            and not isinstance(value, want)
            and not (kind in _NUMERIC and isinstance(value, str))
        ):
            raise AdxError(
                "ValidationException", f"{op}: {name} must be a {kind}, not {type(value).__name__}"
            )
        if isinstance(value, dict) and kind in ("map", "structure"):
            _check_strings(op, name, value, shape.members[name])
    missing = [m for m in shape.required_members if params.get(m) in (None, "")]
    if missing:
        raise AdxError("ValidationException", f"{op}: missing required parameter(s) {', '.join(missing)}")
    for name, value in params.items():
        member = shape.members[name]
        allowed = getattr(member, "enum", None) or (
            getattr(member.member, "enum", None) if member.type_name == "list" else None
        )
        values = value if isinstance(value, list) else [value]
        if allowed and any(v not in allowed for v in values):
            raise AdxError(
                "ValidationException", f"{op}: {name} must be one of {', '.join(allowed)}, not {value!r}"
            )
    return params


_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "integer": (int, str),
    "long": (int, str),
    "double": (int, float, str),
    "timestamp": (str, int, float),
    "map": dict,
    "structure": dict,
    "list": list,
}
_NUMERIC = frozenset({"integer", "long", "double"})


def _check_strings(op: str, name: str, value: dict[str, Any], shape: Any) -> None:
    """Tags (a map of strings) must hold strings: the state stores them as such."""
    if shape.type_name == "map" and getattr(shape.value, "type_name", None) == "string":
        bad = [k for k, v in value.items() if not isinstance(v, str)]
        if bad:
            raise AdxError("ValidationException", f"{op}: {name} values must be strings ({', '.join(bad)})")


def handle(
    backend: DataExchangeBackend,
    account: str,
    *,
    method: str,
    raw_path: str,
    query: dict[str, list[str]],
    body: bytes,
    request_id: str,
) -> AdxResponse:
    """Serve one Data Exchange request for `account` (already authenticated by the router)."""
    headers = {"x-amzn-RequestId": request_id, "Content-Type": "application/json"}
    route = resolve(method, raw_path)
    op = route[0] if route else None
    try:
        if route is None:
            raise AdxError("ResourceNotFoundException", f"no Data Exchange operation at {method} {raw_path}")
        params = _params(route[0], route[1], query, body)
        doc, status = _dispatch(backend, account, route[0], params)
        status = status or int(service_model().operation_model(route[0]).http.get("responseCode", 200))
        data = b"" if doc is None else json.dumps(doc).encode()
        return AdxResponse(status=status, operation=op, body=data, headers=headers)
    except AdxError as e:
        return error_response(e, op, headers)
    except Exception as e:  # a bug in the stand-in: answer as AWS does (500), never with a traceback
        return error_response(
            AdxError("InternalServerException", f"internal error ({type(e).__name__})"), op, headers
        )


def error_response(e: AdxError, op: str | None, headers: dict[str, str]) -> AdxResponse:
    shape = service_model().shape_for(e.code)
    status = int(shape.metadata["error"]["httpStatusCode"])
    err = _clean({"Message": e.message, "ResourceId": e.resource_id, "ResourceType": e.resource_type})
    err = {k: v for k, v in err.items() if k in shape.members}
    headers = {**headers, "x-amzn-ErrorType": e.code}
    return AdxResponse(
        status=status, operation=op, body=json.dumps(err).encode(), error_code=e.code, headers=headers
    )
