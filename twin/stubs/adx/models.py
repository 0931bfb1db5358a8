"""Data Exchange state: data sets, revisions, assets, jobs and data grants, per AWS account.

Every operation takes the calling account (established by the router's SigV4 check) and answers only
from what that account may see: its own data sets, revisions, jobs and sent grants, and the grants it
received. An entitled data set (a received grant that was accepted) is visible to the receiver with
`Origin=ENTITLED` and only its finalized revisions. Something the caller may not see is "not found",
never "denied", so one account cannot probe another's ids.

Assets live as files under the storage folder (`assets/<data set>/<revision>/<asset>.parquet`), which
is what makes zero-copy reads possible: an entitled subscriber's DuckDB reads those very files.
The state is saved as JSON after every change, so a restarted endpoint keeps its products and grants.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from twin.errors import TwinError
from twin.stubs.adx.gates import GateReport, run_gates

__all__ = ["AdxError", "DataExchangeBackend", "ObjectStore"]

AcceptanceState = Literal["PENDING_RECEIVER_ACCEPTANCE", "ACCEPTED"]
JobState = Literal["WAITING", "IN_PROGRESS", "ERROR", "COMPLETED", "CANCELLED", "TIMED_OUT"]
SUPPORTED_JOBS = ("IMPORT_ASSETS_FROM_S3", "EXPORT_ASSETS_TO_S3")


class AdxError(TwinError):
    """An error the service answers with; `code` is one of the model's error shapes."""

    def __init__(
        self, code: str, message: str, *, resource_id: str | None = None, resource_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.resource_id = resource_id
        self.resource_type = resource_type


class ObjectStore(Protocol):
    """Where import jobs read from and export jobs write to (S3; moto's in the twin)."""

    def get(self, bucket: str, key: str) -> bytes: ...

    def put(self, bucket: str, key: str, data: bytes) -> None: ...


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataSet(_State):
    id: str
    arn: str
    owner: str
    name: str
    description: str
    asset_type: str
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str] = Field(default_factory=dict)


class Revision(_State):
    id: str
    arn: str
    data_set_id: str
    comment: str | None = None
    finalized: bool = False
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str] = Field(default_factory=dict)
    gate_report: GateReport | None = None


class Asset(_State):
    id: str
    arn: str
    data_set_id: str
    revision_id: str
    name: str
    size: int
    created_at: datetime
    updated_at: datetime


class Job(_State):
    id: str
    arn: str
    owner: str
    type: str
    state: JobState
    details: dict[str, Any]
    errors: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime


class DataGrant(_State):
    id: str
    arn: str
    name: str
    description: str | None = None
    sender: str
    receiver: str
    source_data_set_id: str
    acceptance_state: AcceptanceState = "PENDING_RECEIVER_ACCEPTANCE"
    accepted_at: datetime | None = None
    ends_at: datetime | None = None
    scope: str
    created_at: datetime
    updated_at: datetime
    tags: dict[str, str] = Field(default_factory=dict)


class _Snapshot(_State):
    data_sets: dict[str, DataSet] = Field(default_factory=dict)
    revisions: dict[str, Revision] = Field(default_factory=dict)
    assets: dict[str, Asset] = Field(default_factory=dict)
    jobs: dict[str, Job] = Field(default_factory=dict)
    grants: dict[str, DataGrant] = Field(default_factory=dict)


# The string members each kind of job entry needs (`Key` of an export destination may be omitted).
_ENTRY_FIELDS = {"AssetSources": ("Bucket", "Key"), "AssetDestinations": ("AssetId", "Bucket")}


def _check_entries(body: dict[str, Any], field: str) -> None:
    entries = body.get(field)
    if not isinstance(entries, list) or not entries:
        raise AdxError("ValidationException", f"{field} must be a non-empty list")
    for i, entry in enumerate(entries):
        need = _ENTRY_FIELDS[field]
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k] for k in need):
            raise AdxError("ValidationException", f"{field}[{i}] needs string {' and '.join(need)}")
        if "Key" in entry and not isinstance(entry["Key"], str):
            raise AdxError("ValidationException", f"{field}[{i}].Key must be a string")


def _id() -> str:
    return secrets.token_hex(16)


class DataExchangeBackend:
    """All accounts' Data Exchange state, behind one lock (requests arrive on server threads)."""

    def __init__(
        self,
        storage_dir: Path,
        objects: ObjectStore,
        *,
        region: str = "us-east-1",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        business_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.storage_dir = Path(storage_dir)
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        self.objects = objects
        self.region = region
        self._clock = clock
        # The gates' "now" (NAV freshness): the platform's business day, which a twin running on a
        # fixed data calendar sets apart from the wall clock.
        self._business_clock = business_clock or (lambda: datetime.now())
        self._lock = threading.RLock()
        self._file = self.storage_dir / "state.json"
        self._s = (
            _Snapshot.model_validate_json(self._file.read_bytes()) if self._file.exists() else _Snapshot()
        )

    # -- persistence ---------------------------------------------------------------------------------
    def _save(self) -> None:
        tmp = self._file.with_suffix(".tmp")
        tmp.write_text(self._s.model_dump_json())
        os.replace(tmp, self._file)

    def _put(self, kind: str, obj: _State) -> None:
        table = dict(getattr(self._s, kind))
        table[obj.id] = obj  # type: ignore[attr-defined]
        self._s = self._s.model_copy(update={kind: table})
        self._save()

    def _arn(self, account: str, resource: str) -> str:
        return f"arn:aws:dataexchange:{self.region}:{account}:{resource}"

    def asset_path(self, asset: Asset) -> Path:
        return self.storage_dir / "assets" / asset.data_set_id / asset.revision_id / f"{asset.id}.parquet"

    # -- visibility ----------------------------------------------------------------------------------
    def _entitled(self, account: str, data_set_id: str) -> bool:
        now = self._clock()
        return any(
            g.receiver == account
            and g.source_data_set_id == data_set_id
            and g.acceptance_state == "ACCEPTED"
            and (g.ends_at is None or g.ends_at > now)
            for g in self._s.grants.values()
        )

    def _data_set(self, account: str, data_set_id: str, *, owner_only: bool = False) -> DataSet:
        ds = self._s.data_sets.get(data_set_id)
        if ds is not None and ds.owner == account:
            return ds
        if ds is not None and self._entitled(account, data_set_id):
            if owner_only:
                raise AdxError("AccessDeniedException", f"data set {data_set_id} is entitled, not owned")
            return ds
        raise AdxError(
            "ResourceNotFoundException",
            f"Data set {data_set_id} not found",
            resource_id=data_set_id,
            resource_type="DATA_SET",
        )

    def _revision(
        self, account: str, data_set_id: str, revision_id: str, *, owner_only: bool = False
    ) -> Revision:
        ds = self._data_set(account, data_set_id, owner_only=owner_only)
        rev = self._s.revisions.get(revision_id)
        if rev is None or rev.data_set_id != data_set_id or (ds.owner != account and not rev.finalized):
            raise AdxError(
                "ResourceNotFoundException",
                f"Revision {revision_id} not found",
                resource_id=revision_id,
                resource_type="REVISION",
            )
        return rev

    def origin(self, account: str, ds: DataSet) -> str:
        return "OWNED" if ds.owner == account else "ENTITLED"

    # -- data sets -----------------------------------------------------------------------------------
    def create_data_set(
        self,
        account: str,
        *,
        name: str,
        description: str,
        asset_type: str,
        tags: dict[str, str] | None = None,
    ) -> DataSet:
        if asset_type != "S3_SNAPSHOT":
            raise AdxError(
                "ValidationException", f"AssetType {asset_type} is not supported here; use S3_SNAPSHOT"
            )
        with self._lock:
            now = self._clock()
            i = _id()
            ds = DataSet(
                id=i,
                arn=self._arn(account, f"data-sets/{i}"),
                owner=account,
                name=name,
                description=description,
                asset_type=asset_type,
                created_at=now,
                updated_at=now,
                tags=tags or {},
            )
            self._put("data_sets", ds)
            return ds

    def get_data_set(self, account: str, data_set_id: str) -> DataSet:
        with self._lock:
            return self._data_set(account, data_set_id)

    def list_data_sets(self, account: str, origin: str | None = None) -> list[DataSet]:
        if origin not in (None, "OWNED", "ENTITLED"):
            raise AdxError("ValidationException", f"Origin must be OWNED or ENTITLED, not {origin}")
        with self._lock:
            out = []
            for ds in self._s.data_sets.values():
                o = (
                    "OWNED"
                    if ds.owner == account
                    else ("ENTITLED" if self._entitled(account, ds.id) else None)
                )
                if o is not None and origin in (None, o):
                    out.append(ds)
            return sorted(out, key=lambda d: (d.created_at, d.id))

    # -- revisions and assets ------------------------------------------------------------------------
    def create_revision(
        self, account: str, data_set_id: str, *, comment: str | None, tags: dict[str, str] | None = None
    ) -> Revision:
        with self._lock:
            ds = self._data_set(account, data_set_id, owner_only=True)
            now = self._clock()
            i = _id()
            rev = Revision(
                id=i,
                arn=self._arn(account, f"data-sets/{ds.id}/revisions/{i}"),
                data_set_id=ds.id,
                comment=comment,
                created_at=now,
                updated_at=now,
                tags=tags or {},
            )
            self._put("revisions", rev)
            return rev

    def get_revision(self, account: str, data_set_id: str, revision_id: str) -> Revision:
        with self._lock:
            return self._revision(account, data_set_id, revision_id)

    def list_revisions(self, account: str, data_set_id: str) -> list[Revision]:
        with self._lock:
            ds = self._data_set(account, data_set_id)
            revs = [
                r
                for r in self._s.revisions.values()
                if r.data_set_id == ds.id and (ds.owner == account or r.finalized)
            ]
            return sorted(revs, key=lambda r: (r.created_at, r.id))

    def list_assets(self, account: str, data_set_id: str, revision_id: str) -> list[Asset]:
        with self._lock:
            rev = self._revision(account, data_set_id, revision_id)
            return sorted(
                (a for a in self._s.assets.values() if a.revision_id == rev.id), key=lambda a: a.name
            )

    def last_finalized(self, data_set_id: str, *, before: str | None = None) -> Revision | None:
        revs = [
            r
            for r in self._s.revisions.values()
            if r.data_set_id == data_set_id and r.finalized and r.id != before
        ]
        return max(revs, key=lambda r: (r.updated_at, r.id)) if revs else None

    def update_revision(
        self,
        account: str,
        data_set_id: str,
        revision_id: str,
        *,
        comment: str | None = None,
        finalized: bool | None = None,
    ) -> Revision:
        with self._lock:
            rev = self._revision(account, data_set_id, revision_id, owner_only=True)
            update: dict[str, Any] = {"updated_at": self._clock()}
            if comment is not None:
                update["comment"] = comment
            if finalized is True and not rev.finalized:
                report = self.gate_report(rev)
                if not report.passed:
                    self._put("revisions", rev.model_copy(update={"gate_report": report}))
                    raise AdxError(
                        "ValidationException",
                        f"revision {rev.id} not finalized: data-quality gates failed: {report.summary()}",
                        resource_id=rev.id,
                        resource_type="REVISION",
                    )
                update |= {"finalized": True, "gate_report": report}
            elif finalized is False and rev.finalized:
                if any(g.source_data_set_id == data_set_id for g in self._s.grants.values()):
                    raise AdxError(
                        "ConflictException",
                        f"revision {rev.id} is shared by a data grant; "
                        "publish a new revision instead of unfinalizing this one",
                    )
                update["finalized"] = False
            new = rev.model_copy(update=update)
            self._put("revisions", new)
            return new

    def _files(self, revision_id: str) -> dict[str, Path]:
        """The revision's assets as table name (the S3 key's file stem) → stored file."""
        return {
            Path(a.name).stem: self.asset_path(a)
            for a in self._s.assets.values()
            if a.revision_id == revision_id
        }

    def gate_report(self, rev: Revision) -> GateReport:
        prev = self.last_finalized(rev.data_set_id, before=rev.id)
        return run_gates(
            self._files(rev.id), self._files(prev.id) if prev else {}, as_of=self._business_clock()
        )

    # -- jobs ----------------------------------------------------------------------------------------
    def create_job(self, account: str, *, job_type: str, details: dict[str, Any]) -> Job:
        if job_type not in SUPPORTED_JOBS:
            raise AdxError(
                "ValidationException",
                f"job type {job_type} is not served by this stand-in; use one of {', '.join(SUPPORTED_JOBS)}",
            )
        body = details.get(
            "ImportAssetsFromS3" if job_type == "IMPORT_ASSETS_FROM_S3" else "ExportAssetsToS3"
        )
        if not isinstance(body, dict) or not body.get("DataSetId") or not body.get("RevisionId"):
            raise AdxError("ValidationException", f"Details for {job_type} need DataSetId and RevisionId")
        _check_entries(body, "AssetSources" if job_type == "IMPORT_ASSETS_FROM_S3" else "AssetDestinations")
        with self._lock:
            if job_type == "IMPORT_ASSETS_FROM_S3":
                rev = self._revision(account, body["DataSetId"], body["RevisionId"], owner_only=True)
                if rev.finalized:
                    raise AdxError(
                        "ConflictException", f"revision {rev.id} is finalized; create a new revision"
                    )
                if not body.get("AssetSources"):
                    raise AdxError("ValidationException", "ImportAssetsFromS3 needs at least one AssetSource")
            else:
                self._revision(account, body["DataSetId"], body["RevisionId"])
                if not body.get("AssetDestinations"):
                    raise AdxError(
                        "ValidationException", "ExportAssetsToS3 needs at least one AssetDestination"
                    )
            now = self._clock()
            i = _id()
            job = Job(
                id=i,
                arn=self._arn(account, f"jobs/{i}"),
                owner=account,
                type=job_type,
                state="WAITING",
                details=details,
                created_at=now,
                updated_at=now,
            )
            self._put("jobs", job)
            return job

    def _job(self, account: str, job_id: str) -> Job:
        job = self._s.jobs.get(job_id)
        if job is None or job.owner != account:
            raise AdxError(
                "ResourceNotFoundException",
                f"Job {job_id} not found",
                resource_id=job_id,
                resource_type="JOB",
            )
        return job

    def get_job(self, account: str, job_id: str) -> Job:
        with self._lock:
            return self._job(account, job_id)

    def start_job(self, account: str, job_id: str) -> Job:
        """Runs the job to completion before answering (the jobs are small files on one machine)."""
        with self._lock:
            job = self._job(account, job_id)
            if job.state != "WAITING":
                raise AdxError("ConflictException", f"job {job_id} is {job.state}, not WAITING")
            try:
                if job.type == "IMPORT_ASSETS_FROM_S3":
                    self._import(account, job.details["ImportAssetsFromS3"])
                else:
                    self._export(account, job.details["ExportAssetsToS3"])
                state: JobState = "COMPLETED"
                errors: list[dict[str, Any]] = []
            except AdxError as e:
                state = "ERROR"
                errors = [
                    {
                        "Code": "RESOURCE_NOT_FOUND_EXCEPTION"
                        if "NotFound" in e.code
                        else "VALIDATION_EXCEPTION",
                        "Message": e.message,
                        "ResourceId": e.resource_id or job.id,
                        "ResourceType": e.resource_type or "JOB",
                    }
                ]
            new = job.model_copy(update={"state": state, "errors": errors, "updated_at": self._clock()})
            self._put("jobs", new)
            return new

    def _import(self, account: str, body: dict[str, Any]) -> None:
        rev = self._revision(account, body["DataSetId"], body["RevisionId"], owner_only=True)
        for src in body["AssetSources"]:
            bucket, key = str(src.get("Bucket", "")), str(src.get("Key", ""))
            try:
                data = self.objects.get(bucket, key)
            except KeyError:
                raise AdxError(
                    "ResourceNotFoundException",
                    f"s3://{bucket}/{key} not found",
                    resource_id=f"{bucket}/{key}",
                    resource_type="ASSET",
                ) from None
            if not data.startswith(b"PAR1"):
                raise AdxError("ValidationException", f"s3://{bucket}/{key} is not a Parquet file")
            now = self._clock()
            i = _id()
            name = key.rsplit("/", 1)[-1]
            asset = Asset(
                id=i,
                arn=self._arn(account, f"data-sets/{rev.data_set_id}/revisions/{rev.id}/assets/{i}"),
                data_set_id=rev.data_set_id,
                revision_id=rev.id,
                name=name,
                size=len(data),
                created_at=now,
                updated_at=now,
            )
            path = self.asset_path(asset)
            path.parent.mkdir(parents=True, exist_ok=True)
            # The asset file is named by id; the gates and subscribers name tables by the asset's name.
            path.write_bytes(data)
            self._put("assets", asset)

    def _export(self, account: str, body: dict[str, Any]) -> None:
        rev = self._revision(account, body["DataSetId"], body["RevisionId"])
        for dest in body["AssetDestinations"]:
            asset = self._s.assets.get(str(dest.get("AssetId", "")))
            if asset is None or asset.revision_id != rev.id:
                raise AdxError(
                    "ResourceNotFoundException",
                    f"asset {dest.get('AssetId')} not in revision {rev.id}",
                    resource_id=str(dest.get("AssetId")),
                    resource_type="ASSET",
                )
            key = str(dest.get("Key") or asset.name)
            self.objects.put(str(dest.get("Bucket", "")), key, self.asset_path(asset).read_bytes())

    # -- data grants ---------------------------------------------------------------------------------
    def create_data_grant(
        self,
        account: str,
        *,
        name: str,
        receiver: str,
        source_data_set_id: str,
        scope: str,
        ends_at: datetime | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> DataGrant:
        if not (len(receiver) == 12 and receiver.isdigit()):
            raise AdxError(
                "ValidationException",
                f"ReceiverPrincipal must be a 12-digit AWS account id, not {receiver!r}",
            )
        if receiver == account:
            raise AdxError("ValidationException", "a data grant cannot name its sender as ReceiverPrincipal")
        with self._lock:
            ds = self._data_set(account, source_data_set_id, owner_only=True)
            if self.last_finalized(ds.id) is None:
                raise AdxError("ValidationException", f"data set {ds.id} has no finalized revision to share")
            now = self._clock()
            i = _id()
            grant = DataGrant(
                id=i,
                arn=self._arn(account, f"data-grants/{i}"),
                name=name,
                description=description,
                sender=account,
                receiver=receiver,
                source_data_set_id=ds.id,
                scope=scope,
                ends_at=ends_at,
                created_at=now,
                updated_at=now,
                tags=tags or {},
            )
            self._put("grants", grant)
            return grant

    def _sent(self, account: str, grant_id: str) -> DataGrant:
        g = self._s.grants.get(grant_id)
        if g is None or g.sender != account:
            raise AdxError(
                "ResourceNotFoundException",
                f"Data grant {grant_id} not found",
                resource_id=grant_id,
                resource_type="DATA_GRANT",
            )
        return g

    def _received(self, account: str, grant_arn: str) -> DataGrant:
        g = next((g for g in self._s.grants.values() if grant_arn in (g.arn, g.id)), None)
        if g is None or g.receiver != account:
            raise AdxError(
                "ResourceNotFoundException",
                f"Data grant {grant_arn} not found",
                resource_id=grant_arn,
                resource_type="DATA_GRANT",
            )
        return g

    def get_data_grant(self, account: str, grant_id: str) -> DataGrant:
        with self._lock:
            return self._sent(account, grant_id)

    def list_data_grants(self, account: str) -> list[DataGrant]:
        with self._lock:
            return sorted(
                (g for g in self._s.grants.values() if g.sender == account),
                key=lambda g: (g.created_at, g.id),
            )

    def delete_data_grant(self, account: str, grant_id: str) -> None:
        with self._lock:
            g = self._sent(account, grant_id)
            grants = {k: v for k, v in self._s.grants.items() if k != g.id}
            self._s = self._s.model_copy(update={"grants": grants})
            self._save()

    def list_received_grants(self, account: str, states: list[str] | None = None) -> list[DataGrant]:
        with self._lock:
            return sorted(
                (
                    g
                    for g in self._s.grants.values()
                    if g.receiver == account and (not states or g.acceptance_state in states)
                ),
                key=lambda g: (g.created_at, g.id),
            )

    def get_received_grant(self, account: str, grant_arn: str) -> DataGrant:
        with self._lock:
            return self._received(account, grant_arn)

    def accept_data_grant(self, account: str, grant_arn: str) -> DataGrant:
        with self._lock:
            g = self._received(account, grant_arn)
            if g.acceptance_state == "ACCEPTED":
                raise AdxError(
                    "ConflictException",
                    f"data grant {g.id} is already accepted",
                    resource_id=g.id,
                    resource_type="DATA_GRANT",
                )
            if g.ends_at is not None and g.ends_at <= self._clock():
                raise AdxError("ValidationException", f"data grant {g.id} ended at {g.ends_at.isoformat()}")
            now = self._clock()
            new = g.model_copy(update={"acceptance_state": "ACCEPTED", "accepted_at": now, "updated_at": now})
            self._put("grants", new)
            return new

    def dump(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(self._s.model_dump_json())
