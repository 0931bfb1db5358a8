"""Where twin keeps its files: a home folder (`.twin/` in the working directory, or `TWIN_HOME`) and a
download cache (`TWIN_CACHE`, default `.cache/` in the working directory). Every command also takes
explicit paths; these are only the defaults."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class TwinPaths(BaseModel):
    model_config = ConfigDict(frozen=True)

    home: Path
    cache: Path

    @property
    def database(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def fixtures(self) -> Path:
        return self.home / "fixtures"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def audit_log(self) -> Path:
        return self.home / "audit.jsonl"

    @property
    def audit_keys(self) -> Path:
        """The audit signer's key folder (0700): TWIN_AUDIT_KEYS puts it out of the log's reach."""
        return Path(os.environ.get("TWIN_AUDIT_KEYS", self.home / "keys"))

    @property
    def audit_digests(self) -> Path:
        """The audit log's signed digests (TWIN_AUDIT_DIGESTS to keep them elsewhere)."""
        return Path(os.environ.get("TWIN_AUDIT_DIGESTS", self.home / "audit.jsonl.digests"))

    @property
    def broker_state(self) -> Path:
        return self.home / "broker" / "state.json"


def paths() -> TwinPaths:
    home = Path(os.environ.get("TWIN_HOME", Path.cwd() / ".twin"))
    cache = Path(os.environ.get("TWIN_CACHE", Path.cwd() / ".cache"))
    return TwinPaths(home=home, cache=cache)
