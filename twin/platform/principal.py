"""Who is asking: the one identity every client of the platform service passes in.

The sim's personas, the API tier's validated tokens and a load-test user all become a `Principal`.
The governance layer receives it as `Claims` (what a secure session needs) and the result cache as a
`CacheScope` (the part of the identity that can change a governed answer): both are derived here, so
the three can no longer drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, field_validator

from twin.cache.keys import CacheScope
from twin.governance.session import Claims

# The governance layer's role-name syntax (Snowflake identifiers): checked here so that a principal
# that exists can always open a session; whether the role is defined is the policies' answer.
_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def _checked_role(v: str) -> str:
    if not _ROLE.match(v):
        raise ValueError(f"not a role name: {v!r} (letters, digits, _ and $; not starting with a digit)")
    return v


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str
    role: str
    department: str | None = None
    secondary_roles: tuple[str, ...] = ()
    # The API client (an OAuth client id) the call came through, for rate limits and chargeback.
    client_id: str | None = None
    # Data products the principal is entitled to (the entitlement workflow's grants).
    entitlements: tuple[str, ...] = ()

    @field_validator("secondary_roles", "entitlements", mode="before")
    @classmethod
    def _tuple(cls, v: Sequence[str]) -> tuple[str, ...]:
        return tuple(v)

    @field_validator("role")
    @classmethod
    def _role_name(cls, v: str) -> str:
        return _checked_role(v)

    @field_validator("secondary_roles")
    @classmethod
    def _role_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_checked_role(r) for r in v)

    @classmethod
    def of(
        cls, user: str, role: str, department: str | None = None, secondary_roles: Sequence[str] = ()
    ) -> Principal:
        """Built from trusted values (a persona of a validated scenario), without re-validating them."""
        return cls.model_construct(
            user=user,
            role=role,
            department=department,
            secondary_roles=tuple(secondary_roles),
            client_id=None,
            entitlements=(),
        )

    def claims(self) -> Claims:
        """What a governed session checks: the role syntax is validated there."""
        return Claims(
            user=self.user,
            role=self.role,
            department=self.department,
            secondary_roles=list(self.secondary_roles),
        )

    def cache_scope(self) -> CacheScope:
        # Policies key on role, department and secondary roles; no shipped policy reads the user, so
        # principals of one department share cache entries.
        return CacheScope.of(self.role, self.department, self.secondary_roles)
