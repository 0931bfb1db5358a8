"""The role hierarchy: which roles are active in a session, as IS_ROLE_IN_SESSION sees them."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from twin.governance.models import CreateRole, GrantRole, Statement


class RoleGraph(BaseModel):
    model_config = ConfigDict(frozen=True)

    roles: frozenset[str] = Field(default_factory=frozenset)
    # parent → roles granted to it (whose privileges it inherits)
    grants: dict[str, frozenset[str]] = Field(default_factory=dict)

    @classmethod
    def from_statements(cls, stmts: Iterable[Statement]) -> RoleGraph:
        roles: set[str] = set()
        grants: dict[str, set[str]] = {}
        for s in stmts:
            if isinstance(s, CreateRole):
                roles.add(s.name)
            elif isinstance(s, GrantRole):
                grants.setdefault(s.to_role, set()).add(s.role)
        return cls(roles=frozenset(roles), grants={k: frozenset(v) for k, v in grants.items()})

    def active(self, primary: str, secondary: Iterable[str] = ()) -> list[str]:
        """Every role in the session: the primary and secondary roles and all roles they inherit."""
        seen: list[str] = []
        stack = [primary, *secondary]
        while stack:
            r = stack.pop(0)
            if r in seen:
                continue
            seen.append(r)
            stack.extend(sorted(self.grants.get(r, ())))
        return seen
