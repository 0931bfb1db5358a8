"""A schema store in the manner of Confluent Schema Registry: subjects (`<topic>-value`), numbered versions,
global schema ids, soft and permanent deletes, a compatibility level and a mode per subject and globally.

Registering an identical schema again returns its existing version, so start-up registration is
idempotent; a new version must pass the subject's compatibility level (BACKWARD unless configured) against
its live versions. The same schema gets the same id under every subject, as in Confluent, so a consumer
that only sees the id in a message can fetch the writer's schema.

Versions live as JSON files (`<root>/<subject>/v<N>.json`) when a root is given, in memory otherwise; ids,
deletions, levels and modes live beside them in `<root>/_registry.json`, so ids survive a restart. Subject
names become folder names, so they are held to an allowlist (letters, digits, `.`, `_`, `-`).

Errors carry Confluent's `error_code` (40401 subject not found …), which the HTTP face
(`registry_api.py`) returns unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from twin.errors import TwinError
from twin.streaming.contracts.compat import DEFAULT_LEVEL, LEVELS, level_problems

META_FILE = "_registry.json"
MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE")
DEFAULT_MODE = "READWRITE"
# A folder name on every file system: no separators, no leading dot, bounded like Confluent's 255.
_SUBJECT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}")


class RegistryError(TwinError, ValueError):
    """A refused registry request; `code` is Confluent's error_code (HTTP status = code // 100, or 409)."""

    code = 50001

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class IncompatibleSchema(RegistryError):
    """A new schema version breaks the subject's compatibility level; `problems` names each field."""

    code = 409

    def __init__(self, subject: str, problems: list[str], level: str = DEFAULT_LEVEL) -> None:
        self.subject = subject
        self.problems = problems
        self.level = level
        super().__init__(f"{subject}: not {level} compatible: " + "; ".join(problems))


class RegisteredVersion(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    version: int
    id: int
    schema_: dict[str, Any]
    deleted: bool = False


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


def canonical(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


def fingerprint(schema: dict[str, Any]) -> str:
    """What the id table is keyed by: a digest, so the table stays small however big the schemas."""
    return hashlib.sha256(canonical(schema).encode()).hexdigest()


def check_subject(subject: str) -> str:
    if not _SUBJECT.fullmatch(subject):
        raise RegistryError(
            f"invalid subject {subject[:80]!r}: use 1-255 letters, digits, '.', '_' or '-', "
            "not starting with '.' or '-'",
            42208,
        )
    return subject


def _write(path: Path, text: str) -> None:
    # write-then-rename: a crash leaves the old file or the new one, never half of one
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class SchemaStore:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else None
        # subject -> version -> record; dicts keep insertion (= version) order
        self._subjects: dict[str, dict[int, RegisteredVersion]] = {}
        self._ids: dict[str, int] = {}  # fingerprint -> global id
        self._levels: dict[str, str] = {}
        self._modes: dict[str, str] = {}
        self._global_level = DEFAULT_LEVEL
        self._global_mode = DEFAULT_MODE
        self._lock = threading.RLock()
        if self.root is not None and self.root.exists():
            self._load(self.root)

    # -- persistence ---------------------------------------------------------------------------------
    def _load(self, root: Path) -> None:
        meta: dict[str, Any] = {}
        if (root / META_FILE).exists():
            meta = json.loads((root / META_FILE).read_text())
        for key, value in meta.get("ids", []):
            self._ids[key] = int(value)
        self._global_level = meta.get("global_level", DEFAULT_LEVEL)
        self._global_mode = meta.get("global_mode", DEFAULT_MODE)
        self._levels = dict(meta.get("levels", {}))
        self._modes = dict(meta.get("modes", {}))
        known: dict[str, dict[str, Any]] = meta.get("versions", {})
        assigned = False
        for subject_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            subject = subject_dir.name
            files = sorted(subject_dir.glob("v*.json"), key=lambda p: int(p.stem[1:]))
            records: dict[int, RegisteredVersion] = {}
            for f in files:
                version = int(f.stem[1:])
                schema = json.loads(f.read_text())
                info = known.get(subject, {}).get(str(version), {})
                key = fingerprint(schema)
                if key not in self._ids:  # a version written before ids were kept: number it now
                    self._ids[key] = self._new_id()
                    assigned = True
                records[version] = RegisteredVersion(
                    subject=subject,
                    version=version,
                    id=self._ids[key],
                    schema_=schema,
                    deleted=bool(info.get("deleted", False)),
                )
            if records:
                self._subjects[subject] = records
        if assigned:
            self._save_meta()

    def _save_meta(self) -> None:
        if self.root is None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {
            "ids": [[k, v] for k, v in sorted(self._ids.items(), key=lambda kv: kv[1])],
            "global_level": self._global_level,
            "global_mode": self._global_mode,
            "levels": self._levels,
            "modes": self._modes,
            "versions": {
                s: {str(v): {"id": r.id, "deleted": r.deleted} for v, r in records.items()}
                for s, records in self._subjects.items()
            },
        }
        _write(self.root / META_FILE, json.dumps(meta, sort_keys=True, separators=(",", ":")))

    def _new_id(self) -> int:
        return max(self._ids.values(), default=0) + 1

    # -- reading -------------------------------------------------------------------------------------
    def subjects(self, *, deleted: bool = False) -> list[str]:
        return sorted(
            s for s, rs in self._subjects.items() if deleted or any(not r.deleted for r in rs.values())
        )

    def versions(self, subject: str, *, deleted: bool = False) -> list[int]:
        return [v for v, r in self._subjects.get(subject, {}).items() if deleted or not r.deleted]

    def version(
        self, subject: str, version: int | None = None, *, deleted: bool = False
    ) -> RegisteredVersion:
        """One version of `subject` (the latest live one when `version` is None)."""
        records = self._subjects.get(subject, {})
        live = [v for v, r in records.items() if not r.deleted]
        if not live and not (deleted and records):
            raise RegistryError(f"Subject '{subject}' not found.", 40401)
        if version is None:
            return records[live[-1]] if live else records[max(records)]
        record = records.get(version)
        if record is None or (record.deleted and not deleted):
            raise RegistryError(f"Version {version} not found.", 40402)
        return record

    def get(self, subject: str, version: int | None = None) -> dict[str, Any]:
        try:
            return self.version(subject, version).schema_
        except RegistryError as e:
            raise KeyError(f"no schema registered for subject {subject!r}: {e}") from None

    def by_id(self, schema_id: int) -> list[RegisteredVersion]:
        """Every (subject, version) holding schema `schema_id`, soft-deleted ones included."""
        found = [r for rs in self._subjects.values() for r in rs.values() if r.id == schema_id]
        if not found:
            raise RegistryError(f"Schema {schema_id} not found", 40403)
        return found

    def lookup(self, subject: str, schema: dict[str, Any], *, deleted: bool = False) -> RegisteredVersion:
        """The version of `subject` whose schema is `schema` (POST /subjects/{subject})."""
        key = canonical(schema)
        records = self._subjects.get(subject, {})
        if not any(deleted or not r.deleted for r in records.values()):
            raise RegistryError(f"Subject '{subject}' not found.", 40401)
        for r in records.values():
            if (deleted or not r.deleted) and canonical(r.schema_) == key:
                return r
        raise RegistryError("Schema not found", 40403)

    # -- compatibility -------------------------------------------------------------------------------
    def level(self, subject: str | None = None, *, default_to_global: bool = True) -> str:
        if subject is None:
            return self._global_level
        if subject in self._levels:
            return self._levels[subject]
        if default_to_global:
            return self._global_level
        raise RegistryError(
            f"Subject '{subject}' does not have subject-level compatibility configured", 40408
        )

    def problems(
        self, subject: str, schema: dict[str, Any], version: int | None = None, level: str | None = None
    ) -> list[str]:
        """Why `schema` may not become `subject`'s next version (or, given `version`, follow that one)."""
        level = level or self.level(subject)
        records = self._subjects.get(subject, {})
        if version is not None:
            history = [(version, self.version(subject, version).schema_)]
            level = level.removesuffix("_TRANSITIVE")
        else:
            history = [(v, r.schema_) for v, r in records.items() if not r.deleted]
        return level_problems(level, history, schema)

    def check(self, subject: str, schema: dict[str, Any]) -> list[str]:
        """Problems `schema` would have as the next version of `subject` (empty: fine)."""
        return self.problems(subject, schema)

    # -- writing -------------------------------------------------------------------------------------
    def register(self, subject: str, schema: dict[str, Any] | type[BaseModel]) -> int:
        """Add `schema` as the next version of `subject` and return its version number."""
        return self.register_version(subject, schema).version

    def register_version(self, subject: str, schema: dict[str, Any] | type[BaseModel]) -> RegisteredVersion:
        if isinstance(schema, type):
            schema = json_schema(schema)
        check_subject(subject)
        key = canonical(schema)
        with self._lock:
            records = self._subjects.get(subject, {})
            for r in records.values():
                if not r.deleted and canonical(r.schema_) == key:
                    return r
            if self.mode(subject) != "READWRITE":
                raise RegistryError(f"Subject {subject} is in read-only mode", 42205)
            level = self.level(subject)
            problems = self.problems(subject, schema, level=level)
            if problems:
                raise IncompatibleSchema(subject, problems, level)
            # after the highest version, soft-deleted ones included; a permanent delete frees its number,
            # as in Confluent
            version = max(records, default=0) + 1
            schema_id = self._ids.setdefault(fingerprint(schema), self._new_id())
            record = RegisteredVersion(subject=subject, version=version, id=schema_id, schema_=schema)
            if self.root is not None:
                folder = self.root / subject
                folder.mkdir(parents=True, exist_ok=True)
                _write(folder / f"v{version}.json", json.dumps(schema, indent=2, sort_keys=True))
            self._subjects.setdefault(subject, {})[version] = record
            self._save_meta()
            return record

    def delete_version(self, subject: str, version: int | None, *, permanent: bool = False) -> int:
        """Soft-delete a version (hidden, still readable by id); `permanent` removes a soft-deleted one."""
        with self._lock:
            record = self.version(subject, version, deleted=permanent)
            if permanent:
                if not record.deleted:
                    raise RegistryError(
                        f"Subject '{subject}' Version {record.version} was not deleted first before being "
                        "permanently deleted",
                        40407,
                    )
                self._drop(subject, record.version)
            else:
                self._subjects[subject][record.version] = record.model_copy(update={"deleted": True})
            self._save_meta()
            return record.version

    def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        with self._lock:
            records = self._subjects.get(subject, {})
            if not records:
                raise RegistryError(f"Subject '{subject}' not found.", 40401)
            live = [v for v, r in records.items() if not r.deleted]
            if permanent:
                if live:
                    raise RegistryError(
                        f"Subject '{subject}' was not deleted first before being permanently deleted", 40405
                    )
                gone = list(records)
                for v in gone:
                    self._drop(subject, v)
                self._levels.pop(subject, None)
                self._modes.pop(subject, None)
                self._save_meta()
                return gone
            if not live:
                raise RegistryError(
                    f"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently", 40404
                )
            for v in live:
                records[v] = records[v].model_copy(update={"deleted": True})
            self._save_meta()
            return live

    def _drop(self, subject: str, version: int) -> None:
        del self._subjects[subject][version]
        if self.root is not None:
            (self.root / subject / f"v{version}.json").unlink(missing_ok=True)
        if not self._subjects[subject]:
            del self._subjects[subject]
            if self.root is not None and (self.root / subject).is_dir():
                (self.root / subject).rmdir()

    def set_level(self, level: str, subject: str | None = None) -> str:
        level = level.upper() if isinstance(level, str) else level
        if level not in LEVELS:
            raise RegistryError(
                f"Invalid compatibility level {level!r}. Valid values are {', '.join(LEVELS)}", 42203
            )
        with self._lock:
            if subject is None:
                self._global_level = level
            else:
                self._levels[check_subject(subject)] = level
            self._save_meta()
        return level

    def delete_level(self, subject: str | None = None) -> str:
        """Forget a subject's level (it follows the global one again); the global one returns to BACKWARD."""
        with self._lock:
            if subject is None:
                old, self._global_level = self._global_level, DEFAULT_LEVEL
            else:
                old = self.level(subject, default_to_global=False)
                del self._levels[subject]
            self._save_meta()
            return old

    def mode(self, subject: str | None = None, *, default_to_global: bool = True) -> str:
        if subject is None:
            return self._global_mode
        if subject in self._modes:
            return self._modes[subject]
        if default_to_global:
            return self._global_mode
        raise RegistryError(f"Subject '{subject}' does not have subject-level mode configured", 40409)

    def set_mode(self, mode: str, subject: str | None = None) -> str:
        mode = mode.upper() if isinstance(mode, str) else mode
        if mode not in MODES:
            raise RegistryError(
                f"Invalid mode {mode!r}. Valid values are {', '.join(MODES)} (twin has no IMPORT mode)", 42204
            )
        with self._lock:
            if subject is None:
                self._global_mode = mode
            else:
                self._modes[check_subject(subject)] = mode
            self._save_meta()
        return mode

    def delete_mode(self, subject: str) -> str:
        with self._lock:
            old = self.mode(subject, default_to_global=False)
            del self._modes[subject]
            self._save_meta()
            return old
