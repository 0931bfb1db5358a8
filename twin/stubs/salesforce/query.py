"""Running a parsed SOQL query against the org: field resolution through parent relationships, typed
comparisons (dates as dates, not strings), ordering with Salesforce's null placement, and the result
shape (`attributes`, nested parent objects) the REST API returns."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from twin.stubs.salesforce.models import Org, Record, SalesforceError, id_checksum
from twin.stubs.salesforce.schema import FieldDef, ObjectDef
from twin.stubs.salesforce.soql import (
    BoolOp,
    Comparison,
    Condition,
    FieldRef,
    InList,
    Like,
    Literal_,
    Not,
    Query,
)


def _invalid(path: FieldRef, obj: ObjectDef) -> SalesforceError:
    name = ".".join(path.path)
    return SalesforceError(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{obj.name}'. Check the spelling of the field.",
    )


class Resolved:
    """A field path bound to the schema: the relationship hops and the final field."""

    def __init__(self, org: Org, obj: ObjectDef, ref: FieldRef) -> None:
        self.hops: list[tuple[FieldDef, ObjectDef]] = []
        current = obj
        for part in ref.path[:-1]:
            rel = current.relationship(part)
            if rel is None or rel.reference_to is None:
                raise _invalid(ref, obj)
            target = org.object_def(rel.reference_to)
            self.hops.append((rel, target))
            current = target
        last = current.field(ref.path[-1])
        if last is None:
            raise _invalid(ref, obj)
        self.field = last
        self.owner = current

    def value(self, org: Org, record: Record) -> Any:
        current: Record | None = record
        for rel, target in self.hops:
            if current is None:
                return None
            parent_id = current.get(rel.name)
            current = org.records[target.name].get(parent_id) if parent_id else None
        return None if current is None else current.get(self.field.name)


def _typed(fdef: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if fdef.type == "date":
        return date.fromisoformat(value)
    if fdef.type == "datetime":
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    return value


def _literal(fdef: FieldDef, lit: Literal_) -> Any:
    v = lit.value
    if v is None:
        return None
    if fdef.type == "date":
        if isinstance(v, datetime) or not isinstance(v, date):
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"value of filter criterion for field '{fdef.name}' must be of type date "
                "and should not be enclosed in quotes",
            )
        return v
    if fdef.type == "datetime":
        if isinstance(v, datetime):
            return v
        if isinstance(v, date):
            # a date keyword against a datetime field: midnight UTC of that day
            return datetime(v.year, v.month, v.day, tzinfo=UTC)
        raise SalesforceError(
            400,
            "INVALID_FIELD",
            f"value of filter criterion for field '{fdef.name}' must be of type dateTime "
            "and should not be enclosed in quotes",
        )
    if fdef.type in ("double", "currency"):
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise SalesforceError(
                400, "INVALID_FIELD", f"value of filter criterion for field '{fdef.name}' must be a number"
            )
        return v
    if fdef.type == "boolean":
        if not isinstance(v, bool):
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"value of filter criterion for field '{fdef.name}' must be TRUE or FALSE",
            )
        return v
    if isinstance(v, str) and fdef.type in ("id", "reference") and len(v) == 15:
        return id_checksum(v)  # a 15-character id names the same record as its 18-character form
    if not isinstance(v, str):
        raise SalesforceError(
            400, "INVALID_FIELD", f"value of filter criterion for field '{fdef.name}' must be a quoted string"
        )
    return v


def _like(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    # SOQL's LIKE is case-insensitive
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


class _Compiled:
    def __init__(self, org: Org, obj: ObjectDef) -> None:
        self.org, self.obj = org, obj

    def predicate(self, cond: Condition) -> Any:
        org = self.org
        if isinstance(cond, BoolOp):
            parts = [self.predicate(c) for c in cond.operands]
            if cond.op == "AND":
                return lambda r: all(p(r) for p in parts)
            return lambda r: any(p(r) for p in parts)
        if isinstance(cond, Not):
            inner = self.predicate(cond.operand)
            return lambda r: not inner(r)
        res = Resolved(org, self.obj, cond.field)
        fdef = res.field
        if isinstance(cond, Like):
            if fdef.type not in ("string", "email", "picklist", "id", "reference"):
                raise SalesforceError(
                    400, "INVALID_FIELD", f"invalid operator on field '{fdef.name}': LIKE needs a text field"
                )
            rx = _like(cond.pattern)
            return lambda r: (v := res.value(org, r)) is not None and rx.fullmatch(v) is not None
        if isinstance(cond, InList):
            wanted = {_literal(fdef, v) for v in cond.values}
            neg = cond.negated
            return lambda r: (_typed(fdef, res.value(org, r)) in wanted) != neg
        assert isinstance(cond, Comparison)
        target = _literal(fdef, cond.value)
        op = cond.op
        if cond.value.range_end is not None and target is not None:
            lo, hi = target, _literal(fdef, Literal_(value=cond.value.range_end))
            return lambda r: _in_range(_typed(fdef, res.value(org, r)), op, lo, hi)
        if target is None and op not in ("=", "!="):
            raise SalesforceError(
                400, "MALFORMED_QUERY", f"null can only be compared with = or != ({fdef.name})"
            )
        return lambda r: _compare(_typed(fdef, res.value(org, r)), op, target)


def _fold(v: Any) -> Any:
    # Text comparisons in SOQL ignore case.
    return v.lower() if isinstance(v, str) else v


def _compare(v: Any, op: str, target: Any) -> bool:
    if op == "=":
        return _fold(v) == _fold(target)
    if op == "!=":
        return _fold(v) != _fold(target)
    if v is None or target is None:
        return False
    a, b = _fold(v), _fold(target)
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _in_range(v: Any, op: str, lo: Any, hi: Any) -> bool:
    if v is None:
        return op == "!="
    inside = lo <= v < hi
    return {"=": inside, "!=": not inside, "<": v < lo, "<=": v < hi, ">": v >= hi, ">=": v >= lo}[op]


def _sort_key(values: list[Any], descending: list[bool], nulls_last: list[bool]) -> Any:
    key = []
    for v, desc, nl in zip(values, descending, nulls_last, strict=True):
        v = _fold(v)
        # Nulls sort as a separate group placed first or last whichever way the column runs.
        null_rank = (1 if nl else 0) if v is None else (0 if nl else 1)
        key.append((null_rank, _Desc(v) if desc else _Asc(v)))
    return key


class _Asc:
    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Asc) -> bool:
        if self.v is None or other.v is None:
            return False
        return bool(self.v < other.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Asc) and self.v == other.v


class _Desc(_Asc):
    def __lt__(self, other: _Asc) -> bool:
        if self.v is None or other.v is None:
            return False
        return bool(self.v > other.v)


def run(org: Org, query: Query, api_version: str) -> tuple[int, list[Record]]:
    """(totalSize, records in REST shape) — all pages; the caller pages them."""
    obj = org.object_def(query.sobject) if query.sobject else None
    if obj is None:  # pragma: no cover - object_def raises
        raise SalesforceError(400, "INVALID_TYPE", "no object")
    compiled = _Compiled(org, obj)
    pred = compiled.predicate(query.where) if query.where is not None else None
    selected = [Resolved(org, obj, f) for f in query.fields]
    order = [(Resolved(org, obj, o.field), o) for o in query.order_by]
    with org._lock:
        rows = [r for r in org.records[obj.name].values() if pred is None or pred(r)]
        if order:
            rows.sort(
                key=lambda r: _sort_key(
                    [_typed(res.field, res.value(org, r)) for res, _ in order],
                    [o.descending for _, o in order],
                    [o.nulls_last for _, o in order],
                )
            )
        if query.offset:
            rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        if query.count_only:
            return len(rows), []
        out = [_shape(org, obj, r, query.fields, selected, api_version) for r in rows]
    return len(out), out


def attributes(obj: ObjectDef, record_id: str, api_version: str) -> dict[str, str]:
    return {"type": obj.name, "url": f"/services/data/v{api_version}/sobjects/{obj.name}/{record_id}"}


def _shape(
    org: Org,
    obj: ObjectDef,
    record: Record,
    refs: tuple[FieldRef, ...],
    resolved: list[Resolved],
    version: str,
) -> Record:
    out: Record = {"attributes": attributes(obj, record["Id"], version)}
    for _ref, res in zip(refs, resolved, strict=True):
        target, current = out, record
        for rel, parent_obj in res.hops:
            parent_id = current.get(rel.name) if current else None
            parent = org.records[parent_obj.name].get(parent_id) if parent_id else None
            name = rel.relationship_name or rel.name
            if parent is None:
                target[name] = None
                break
            nested = target.get(name)
            if not isinstance(nested, dict):
                nested = {"attributes": attributes(parent_obj, parent["Id"], version)}
                target[name] = nested
            target, current = nested, parent
        else:
            target[res.field.name] = current.get(res.field.name)
    return out
