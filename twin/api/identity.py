"""Who is calling: the principal a validated token maps to, from twin's own tokens or Cognito's.

Every field ends up in a governed session (role and department drive masking and row access, the
entitlements decide which funds and products a client sees), so each is checked against an allowlist
shape here, at the edge, rather than trusted because the signature was good.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from twin.api.problems import Unauthorized

ROLE_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@ -]{0,127}$")
MAX_ENTITLEMENTS = 1000

# twin's own claim names; Cognito's are `cognito:groups`, `token_use`, `client_id`.
ROLE_CLAIM = "role"
DEPARTMENT_CLAIM = "department"
ENTITLEMENTS_CLAIM = "entitlements"


class Principal(BaseModel):
    """The caller, as the platform service sees it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    client_id: str
    role: str
    secondary_roles: tuple[str, ...] = ()
    department: str | None = None
    entitlements: tuple[str, ...] = ()
    issuer: str
    token_use: str = "access"


def _text(claims: Mapping[str, Any], name: str, *, pattern: re.Pattern[str] = NAME_RE) -> str:
    value = claims.get(name)
    if value is None:
        raise Unauthorized(f"the token has no `{name}` claim")
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Unauthorized(f"the token's `{name}` claim is not a valid value")
    return value


def _role(value: object, claim: str) -> str:
    if not isinstance(value, str) or not ROLE_RE.fullmatch(value.upper()):
        raise Unauthorized(f"the token's `{claim}` claim names no valid role")
    return value.upper()


def principal_from_claims(claims: Mapping[str, Any], *, issuer: str) -> Principal:
    """Map verified claims to a principal: Cognito-shaped when `cognito:groups` is present, else twin's."""
    token_use = claims.get("token_use", "access")
    if token_use not in ("access", "id"):
        raise Unauthorized("the token's `token_use` must be `access` or `id`")
    subject = _text(claims, "sub")
    if "cognito:groups" in claims:
        groups = claims["cognito:groups"]
        if not isinstance(groups, list) or not groups:
            raise Unauthorized("the token's `cognito:groups` claim names no group")
        roles = [_role(g, "cognito:groups") for g in groups]
        # Cognito access tokens carry the app client in `client_id`; ID tokens carry it in `aud`.
        client = claims.get("client_id") if token_use == "access" else claims.get("aud")
        if not isinstance(client, str) or not NAME_RE.fullmatch(client):
            raise Unauthorized("the token names no valid app client")
        department = claims.get("custom:department")
        if department is not None and (not isinstance(department, str) or not NAME_RE.fullmatch(department)):
            raise Unauthorized("the token's `custom:department` claim is not a valid value")
        return Principal(
            subject=subject, client_id=client, role=roles[0], secondary_roles=tuple(roles[1:]),
            department=department, issuer=issuer, token_use=token_use,
        )  # fmt: skip
    role = _role(claims.get(ROLE_CLAIM) or _missing(ROLE_CLAIM), ROLE_CLAIM)
    client = _text(claims, "client_id")
    department = claims.get(DEPARTMENT_CLAIM)
    if department is not None:
        department = _text(claims, DEPARTMENT_CLAIM)
    ents = claims.get(ENTITLEMENTS_CLAIM, [])
    if (
        not isinstance(ents, list)
        or len(ents) > MAX_ENTITLEMENTS
        or not all(isinstance(e, str) and NAME_RE.fullmatch(e) for e in ents)
    ):
        raise Unauthorized(f"the token's `{ENTITLEMENTS_CLAIM}` claim is not a list of valid names")
    return Principal(
        subject=subject, client_id=client, role=role, department=department,
        entitlements=tuple(ents), issuer=issuer, token_use=token_use,
    )  # fmt: skip


def _missing(name: str) -> str:
    raise Unauthorized(f"the token has no `{name}` claim")
