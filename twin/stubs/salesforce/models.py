"""The Salesforce org's state: records of each object, validation as the REST API applies it, the API
limit, and change events for every committed create, update and delete.

Durability: every mutation is appended to a JSON-lines journal (flushed and fsynced before the call
answers), and on start the last snapshot plus the journal are replayed, then compacted into a new
snapshot. A restart, or a crash between calls, keeps every record the clients were told was saved, and
every change event not yet delivered (the journal line carries the event: one fsync for both).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from twin.errors import TwinError
from twin.stubs.salesforce.cdc import ChangeEvent, ChangeEventHeader, ChangeType
from twin.stubs.salesforce.schema import OBJECTS, SYSTEM_FIELDS, FieldDef, ObjectDef, find_object

Clock = Callable[[], float]
Record = dict[str, Any]
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ORG_ID = "00D5g000004TWIN"
INTEGRATION_USER_ID = "0055g00000TWINUAAQ"
# Transaction keys derive from the commit number, so a seeded simulation produces the same events on
# every run (commit numbers never repeat: the counter is journaled with each change).
_TXN_NAMESPACE = uuid.UUID("5f1e2d3c-4b5a-4c6d-8e7f-001122334455")


class SalesforceError(TwinError):
    """An API error in Salesforce's shape: HTTP status and `[{message, errorCode, fields}]`."""

    def __init__(self, status: int, code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, list(fields)

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


class OrgConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_limit: int = Field(5_000, ge=1, description="API calls allowed per rolling window (per org)")
    limit_window_s: float = Field(60.0, gt=0)
    batch_size: int = Field(2_000, ge=1, le=2_000, description="records per query page")
    api_version: str = "59.0"


def id_checksum(id15: str) -> str:
    """Salesforce's 3-character suffix making a 15-character id case-insensitively unique."""
    out = []
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        out.append(_SUFFIX[bits])
    return id15 + "".join(out)


def iso_datetime(ts: float) -> str:
    """The REST API's datetime format, e.g. 2026-12-02T05:01:02.000+0000."""
    return (
        datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}+0000"
    )


class ApiLimiter:
    """A rolling-window call counter per org; the refused call is not counted (as Salesforce does)."""

    def __init__(self, limit: int, window_s: float, clock: Clock) -> None:
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def usage(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return len(self._calls)

    def take(self) -> int:
        """Count one call and return the usage, or raise 403 REQUEST_LIMIT_EXCEEDED."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if len(self._calls) >= self.limit:
                raise SalesforceError(
                    403,
                    "REQUEST_LIMIT_EXCEEDED",
                    f"TotalRequests Limit exceeded: {self.limit} calls per {self.window_s:g} s",
                )
            self._calls.append(now)
            return len(self._calls)

    def _expire(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - self.window_s:
            self._calls.popleft()


class Org:
    """One org's records, guarded by one lock (every mutation is a transaction of one record)."""

    def __init__(
        self,
        state_dir: Path | None = None,
        *,
        config: OrgConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        import time

        self.config = config or OrgConfig()
        self.clock: Clock = clock or time.time
        self.limiter = ApiLimiter(self.config.api_limit, self.config.limit_window_s, self.clock)
        self.records: dict[str, dict[str, Record]] = {name: {} for name in OBJECTS}
        self.counter = 0  # ids and commit numbers come from this, so they survive restarts too
        self.subscribers: list[Callable[[ChangeEvent], None]] = []
        # Committed change events not yet delivered to every subscriber (persisted with the state).
        # After a crash, events since the last snapshot are delivered again: subscribers dedupe by
        # commitNumber / replayId, as Salesforce CDC subscribers must.
        self.outbox: deque[ChangeEvent] = deque()
        self.delivery_error: str | None = None
        self._backoff_s, self._retry_at = 0.0, 0.0
        # Delivery has its own lock so a slow or dead subscriber never holds up API calls; the outbox
        # is appended under the org lock (commit order) and consumed by one drainer at a time.
        self._deliver_lock = threading.Lock()
        self._wake = threading.Event()
        self.async_delivery = False
        self._lock = threading.RLock()
        self._state_dir = state_dir
        self._journal: Any = None
        if state_dir is not None:
            self._recover(state_dir)

    # -- persistence ---------------------------------------------------------------------------
    @property
    def snapshot_path(self) -> Path:
        assert self._state_dir is not None
        return self._state_dir / "org.json"

    @property
    def journal_path(self) -> Path:
        assert self._state_dir is not None
        return self._state_dir / "org.journal.jsonl"

    def _recover(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        if self.snapshot_path.is_file():
            snap = json.loads(self.snapshot_path.read_text())
            self.counter = snap["counter"]
            for name, recs in snap["records"].items():
                self.records[name] = recs
            self.outbox.extend(ChangeEvent.model_validate(e) for e in snap.get("outbox", []))
        if self.journal_path.is_file():
            for line in self.journal_path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break  # a torn last line from a crash mid-write: that call was never answered
                self._apply(entry)
        self._compact()

    def _compact(self) -> None:
        if self._state_dir is None:
            return
        if self._journal is not None:
            self._journal.close()
        tmp = self.snapshot_path.with_suffix(".tmp")
        outbox = [e.model_dump(mode="json") for e in self.outbox]
        tmp.write_text(json.dumps({"counter": self.counter, "records": self.records, "outbox": outbox}))
        os.replace(tmp, self.snapshot_path)
        self._journal = self.journal_path.open("w", encoding="utf-8")

    def _apply(self, entry: dict[str, Any]) -> None:
        self.counter = max(self.counter, entry["counter"])
        if "event" in entry:
            self.outbox.append(ChangeEvent.model_validate(entry["event"]))
        table = self.records[entry["sobject"]]
        if entry["op"] == "delete":
            table.pop(entry["id"], None)
        else:
            table[entry["id"]] = entry["record"]

    def _log(self, entry: dict[str, Any], event: ChangeEvent) -> None:
        """Commit one change and its event together (one fsync), then try to deliver the event."""
        entry["event"] = event.model_dump(mode="json")
        self._apply(entry)
        if self._journal is not None:
            self._journal.write(json.dumps(entry) + "\n")
            self._journal.flush()
            os.fsync(self._journal.fileno())
        if self.async_delivery:
            self._wake.set()  # the delivery thread takes it from here
        else:
            self.drain()

    def close(self) -> None:
        with self._lock:
            self._compact()
            if self._journal is not None:
                self._journal.close()
                self._journal = None

    # -- lookups -------------------------------------------------------------------------------
    def object_def(self, name: str) -> ObjectDef:
        obj = find_object(name)
        if obj is None:
            raise SalesforceError(
                404, "NOT_FOUND", f"The requested resource does not exist: sObject type {name}"
            )
        return obj

    def get(self, sobject: str, record_id: str) -> Record:
        obj = self.object_def(sobject)
        rec = self.records[obj.name].get(self._normalise_id(record_id))
        if rec is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return rec

    def find_by_external_id(self, sobject: str, field: str, value: str) -> list[Record]:
        obj = self.object_def(sobject)
        fdef = obj.field(field)
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise SalesforceError(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}"
            )
        return [r for r in self.records[obj.name].values() if r.get(fdef.name) == value]

    @staticmethod
    def _normalise_id(record_id: str) -> str:
        # A 15-character id names the same record as its 18-character form.
        return id_checksum(record_id) if len(record_id) == 15 else record_id

    # -- mutations -----------------------------------------------------------------------------
    def new_id(self, obj: ObjectDef) -> str:
        self.counter += 1
        n, body = self.counter, []
        for _ in range(9):
            n, r = divmod(n, 62)
            body.append(_BASE62[r])
        return id_checksum(obj.key_prefix + "5g0" + "".join(reversed(body)))

    def create(
        self, sobject: str, data: dict[str, Any], *, origin: str = "", user: str = INTEGRATION_USER_ID
    ) -> str:
        obj = self.object_def(sobject)
        with self._lock:
            values = self._validate(obj, data, creating=True)
            now = iso_datetime(self.clock())
            record_id = self.new_id(obj)
            record: Record = {f.name: None for f in obj.fields}
            record.update(values)
            record.update(
                Id=record_id,
                IsDeleted=False,
                CreatedDate=now,
                CreatedById=user,
                LastModifiedDate=now,
                LastModifiedById=user,
                SystemModstamp=now,
            )
            if obj.name == "Contract":
                record["ContractNumber"] = f"{self.counter:08d}"
            changed = {k: v for k, v in record.items() if v is not None and k != "Id"}
            event = self._event(obj, "CREATE", record_id, changed, [], origin, user)
            self._log(
                {
                    "op": "upsert",
                    "sobject": obj.name,
                    "id": record_id,
                    "record": record,
                    "counter": self.counter,
                },
                event,
            )
            return record_id

    def update(
        self,
        sobject: str,
        record_id: str,
        data: dict[str, Any],
        *,
        origin: str = "",
        user: str = INTEGRATION_USER_ID,
    ) -> None:
        obj = self.object_def(sobject)
        with self._lock:
            current = self.get(obj.name, record_id)
            values = self._validate(obj, data, creating=False, record_id=current["Id"])
            diff = {k: v for k, v in values.items() if current.get(k) != v}
            if not diff:
                return  # Salesforce commits no change (and publishes no event) for identical values
            now = iso_datetime(self.clock())
            self.counter += 1
            record = {
                **current,
                **diff,
                "LastModifiedDate": now,
                "LastModifiedById": user,
                "SystemModstamp": now,
            }
            body = {k: v for k, v in diff.items() if v is not None}
            body["LastModifiedDate"] = now
            nulled = [k for k, v in diff.items() if v is None]
            event = self._event(obj, "UPDATE", record["Id"], body, nulled, origin, user)
            self._log(
                {
                    "op": "upsert",
                    "sobject": obj.name,
                    "id": record["Id"],
                    "record": record,
                    "counter": self.counter,
                },
                event,
            )

    def upsert(
        self,
        sobject: str,
        field: str,
        value: str,
        data: dict[str, Any],
        *,
        origin: str = "",
        user: str = INTEGRATION_USER_ID,
    ) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created). More than one match is 300."""
        obj = self.object_def(sobject)
        with self._lock:
            matches = self.find_by_external_id(obj.name, field, value)
            fdef = obj.field(field)
            assert fdef is not None
            if len(matches) > 1:
                raise SalesforceError(
                    300, "MULTIPLE_RECORDS", f"more than one record has {fdef.name} = {value}"
                )
            if any(k.lower() == fdef.name.lower() for k in data) and fdef.name != "Id":
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"{fdef.name} is given in the URL; leave it out of the body",
                    [fdef.name],
                )
            if matches:
                self.update(obj.name, matches[0]["Id"], data, origin=origin, user=user)
                return matches[0]["Id"], False
            if fdef.name == "Id":
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            return self.create(obj.name, {**data, fdef.name: value}, origin=origin, user=user), True

    def delete(
        self, sobject: str, record_id: str, *, origin: str = "", user: str = INTEGRATION_USER_ID
    ) -> None:
        obj = self.object_def(sobject)
        with self._lock:
            current = self.get(obj.name, record_id)
            if obj.name == "Account":
                for child in ("Contact", "Opportunity", "Contract"):
                    if any(r.get("AccountId") == current["Id"] for r in self.records[child].values()):
                        raise SalesforceError(
                            400,
                            "DELETE_FAILED",
                            f"Your attempt to delete {current.get('Name')} could not be "
                            f"completed because it is associated with {child} records",
                        )
            self.counter += 1
            event = self._event(obj, "DELETE", current["Id"], {}, [], origin, user)
            self._log(
                {"op": "delete", "sobject": obj.name, "id": current["Id"], "counter": self.counter}, event
            )

    def _validate(
        self, obj: ObjectDef, data: dict[str, Any], *, creating: bool, record_id: str | None = None
    ) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "the request body must be a JSON object")
        out: dict[str, Any] = {}
        for key, raw in data.items():
            if key == "attributes":
                continue
            fdef = obj.field(key)
            if fdef is None:
                raise SalesforceError(
                    400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}", [key]
                )
            allowed = fdef.createable if creating else fdef.updateable
            if not allowed or fdef.name in SYSTEM_FIELDS:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fdef.name}. Please check the security "
                    "settings of this field.",
                    [fdef.name],
                )
            out[fdef.name] = self._coerce(obj, fdef, raw)
        if creating:
            missing = [f.name for f in obj.fields if f.required and out.get(f.name) in (None, "")]
            if missing:
                raise SalesforceError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
        else:
            blanked = [k for k, v in out.items() if v in (None, "") and obj.field(k).required]  # type: ignore[union-attr]
            if blanked:
                raise SalesforceError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(blanked)}]",
                    blanked,
                )
        for name, value in out.items():
            fdef = obj.field(name)
            assert fdef is not None
            if fdef.unique and value is not None:
                clash = [
                    r
                    for r in self.records[obj.name].values()
                    if r.get(name) == value and r["Id"] != record_id
                ]
                if clash:
                    raise SalesforceError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: {clash[0]['Id']}",
                        [name],
                    )
        return out

    def _coerce(self, obj: ObjectDef, fdef: FieldDef, raw: Any) -> Any:
        def bad(why: str) -> SalesforceError:
            return SalesforceError(
                400,
                "INVALID_FIELD_VALUE"
                if fdef.type != "picklist"
                else "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{fdef.label}: {why}",
                [fdef.name],
            )

        if raw is None:
            return None
        if fdef.type in ("string", "email", "id", "reference", "picklist"):
            if not isinstance(raw, str):
                raise bad(f"expected a string, got {type(raw).__name__}")
            if fdef.length and len(raw) > fdef.length:
                raise SalesforceError(
                    400,
                    "STRING_TOO_LONG",
                    f"{fdef.label}: data value too large (max length={fdef.length})",
                    [fdef.name],
                )
            if fdef.type == "picklist" and raw not in fdef.picklist:
                raise bad(f"bad value for restricted picklist field: {raw}")
            if fdef.type == "reference" and fdef.reference_to in self.records and raw:
                target = self._normalise_id(raw)
                if target not in self.records[fdef.reference_to]:
                    raise SalesforceError(
                        400, "INVALID_CROSS_REFERENCE_KEY", f"invalid cross reference id: {raw}", [fdef.name]
                    )
                return target
            return raw
        if fdef.type == "boolean":
            if not isinstance(raw, bool):
                raise bad("expected true or false")
            return raw
        if fdef.type in ("double", "currency"):
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise bad("expected a number")
            return raw
        if fdef.type == "date":
            try:
                return date.fromisoformat(str(raw)).isoformat()
            except ValueError as exc:
                raise bad(f"value not of required type: {raw} (expected YYYY-MM-DD)") from exc
        if fdef.type == "datetime":
            try:
                parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            except ValueError as exc:
                raise bad(f"value not of required type: {raw} (expected an ISO 8601 datetime)") from exc
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return iso_datetime(parsed.timestamp())
        raise bad(f"unsupported field type {fdef.type}")  # pragma: no cover

    # -- change data capture -------------------------------------------------------------------
    def _event(
        self,
        obj: ObjectDef,
        change: ChangeType,
        record_id: str,
        body: dict[str, Any],
        nulled: list[str],
        origin: str,
        user: str,
    ) -> ChangeEvent:
        header = ChangeEventHeader(
            entityName=obj.name,
            recordIds=[record_id],
            changeType=change,
            changeOrigin=origin,
            transactionKey=str(uuid.uuid5(_TXN_NAMESPACE, f"{ORG_ID}:{self.counter}")),
            sequenceNumber=1,
            commitTimestamp=int(self.clock() * 1000),
            commitNumber=self.counter,
            commitUser=user,
            changedFields=sorted([*body, *nulled]) if change == "UPDATE" else [],
            nulledFields=sorted(nulled),
            diffFields=[],
        )
        event = ChangeEvent(
            header=header,
            fields={
                k: v
                for k, v in body.items()
                if k not in SYSTEM_FIELDS
                or k in ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById")
            },
            replay_id=self.counter,
        )
        return event

    def drain(self, *, force: bool = False) -> int:
        """Deliver pending change events, oldest first, to every subscriber; returns how many are still
        pending. A subscriber that raises (the broker is down) leaves its event at the head of the outbox
        for a later call (after a backoff of 0.5 s doubling to 30 s; `force` skips it) or a restart:
        at-least-once, in commit order, and a committed write never fails because delivery did (as in
        Salesforce, where the commit does not wait for the event bus)."""
        with self._deliver_lock:
            if not force and self.outbox and self.clock() < self._retry_at:
                return len(self.outbox)  # backing off: a dead broker must not slow every API call
            while self.outbox:
                event = self.outbox[0]
                try:
                    for subscriber in list(self.subscribers):
                        subscriber(event)
                except Exception as exc:  # any subscriber's failure: keep the event, report, retry later
                    self.delivery_error = f"{type(exc).__name__}: {exc}"
                    self._backoff_s = min(max(self._backoff_s * 2, 0.5), 30.0)
                    self._retry_at = self.clock() + self._backoff_s
                    return len(self.outbox)
                self.outbox.popleft()
            self.delivery_error, self._backoff_s, self._retry_at = None, 0.0, 0.0
            return 0

    def start_delivery(self) -> threading.Thread:
        """Deliver change events on a background thread from now on (the HTTP server's mode): an API
        call answers once its change and event are durable, and a broker outage never blocks it."""
        self.async_delivery = True
        thread = threading.Thread(target=self._deliver_loop, name="salesforce-cdc", daemon=True)
        thread.start()
        self._wake.set()
        return thread

    def stop_delivery(self) -> None:
        self.async_delivery = False
        self._wake.set()

    def _deliver_loop(self) -> None:
        while self.async_delivery:
            self._wake.wait(timeout=max(0.05, self._retry_at - self.clock()) if self.outbox else None)
            self._wake.clear()
            self.drain()

    # -- seeding -------------------------------------------------------------------------------
    def is_empty(self) -> bool:
        return not any(self.records.values())

    def seed(self, accounts: list[Record], contracts: list[Record]) -> None:
        """Load records as they already exist in the org (no change events: they happened before)."""
        with self._lock:
            now = iso_datetime(self.clock())
            for sobject, rows in (("Account", accounts), ("Contract", contracts)):
                obj = OBJECTS[sobject]
                for row in rows:
                    record: Record = {f.name: None for f in obj.fields}
                    record.update(row)
                    if not record.get("Id"):
                        record["Id"] = self.new_id(obj)
                    if sobject == "Contract":
                        record["ContractNumber"] = record.get("ContractNumber") or f"{self.counter:08d}"
                    record.update(
                        IsDeleted=False,
                        CreatedDate=now,
                        CreatedById=INTEGRATION_USER_ID,
                        LastModifiedDate=now,
                        LastModifiedById=INTEGRATION_USER_ID,
                        SystemModstamp=now,
                    )
                    self.records[sobject][record["Id"]] = record
            self._compact()
