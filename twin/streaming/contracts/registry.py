"""A schema store in the manner of Confluent Schema Registry: subjects (`<topic>-value`), numbered versions,
and a BACKWARD check against the latest version before a new version is accepted. Registering an
identical schema again returns its existing version, so start-up registration is idempotent.

Versions live as JSON files (`<root>/<subject>/v<N>.json`) when a root is given, in memory otherwise.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from twin.errors import TwinError
from twin.streaming.contracts.compat import backward_problems


class IncompatibleSchema(TwinError, ValueError):
    """A new schema version breaks BACKWARD compatibility; `problems` names each field."""

    def __init__(self, subject: str, problems: list[str]) -> None:
        self.subject = subject
        self.problems = problems
        super().__init__(f"{subject}: not BACKWARD compatible: " + "; ".join(problems))


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


def _canonical(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


class SchemaStore:
    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else None
        self._versions: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        if self.root is not None and self.root.exists():
            for subject_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
                files = sorted(subject_dir.glob("v*.json"), key=lambda p: int(p.stem[1:]))
                self._versions[subject_dir.name] = [json.loads(f.read_text()) for f in files]

    def subjects(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, subject: str) -> list[int]:
        return list(range(1, len(self._versions.get(subject, [])) + 1))

    def get(self, subject: str, version: int | None = None) -> dict[str, Any]:
        versions = self._versions.get(subject)
        if not versions:
            raise KeyError(f"no schema registered for subject {subject!r}")
        return versions[(version or len(versions)) - 1]

    def check(self, subject: str, schema: dict[str, Any]) -> list[str]:
        """BACKWARD problems `schema` would have as the next version of `subject` (empty: fine)."""
        versions = self._versions.get(subject)
        return backward_problems(versions[-1], schema) if versions else []

    def register(self, subject: str, schema: dict[str, Any] | type[BaseModel]) -> int:
        """Add `schema` as the next version of `subject` and return its version number."""
        if isinstance(schema, type):
            schema = json_schema(schema)
        with self._lock:
            versions = self._versions.setdefault(subject, [])
            for i, existing in enumerate(versions, start=1):
                if _canonical(existing) == _canonical(schema):
                    return i
            problems = backward_problems(versions[-1], schema) if versions else []
            if problems:
                raise IncompatibleSchema(subject, problems)
            versions.append(schema)
            if self.root is not None:
                folder = self.root / subject
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"v{len(versions)}.json").write_text(json.dumps(schema, indent=2, sort_keys=True))
            return len(versions)
