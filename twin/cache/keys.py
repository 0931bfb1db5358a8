"""Cache keys that carry the caller's entitlement scope.

A governed result depends on who asked: masking and row-access policies look at the role, the
department and secondary roles (and, for user-scoped policies, the user). The key therefore includes
all of those, so two callers share an entry only when the policies would show them the same rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict


class CacheScope(BaseModel):
    """The part of a caller's identity that can change a governed result."""

    model_config = ConfigDict(frozen=True)

    role: str
    department: str | None = None
    secondary_roles: tuple[str, ...] = ()
    user: str | None = None  # set only when a policy depends on the individual user

    @classmethod
    def of(
        cls,
        role: str,
        department: str | None = None,
        secondary_roles: Sequence[str] = (),
        user: str | None = None,
    ) -> CacheScope:
        return cls(
            role=role.upper(),
            department=department,
            secondary_roles=tuple(sorted(r.upper() for r in secondary_roles)),
            user=user,
        )


def cache_key(scope: CacheScope, sql: str, params: Sequence[object] = ()) -> str:
    """A stable key: same scope, same normalised SQL text, same parameters."""
    body = json.dumps(
        [scope.model_dump(mode="json"), " ".join(sql.split()), list(params)],
        default=str,
        separators=(",", ":"),
    )
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()
