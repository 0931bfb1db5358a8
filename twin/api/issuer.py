"""The local OIDC issuer (Cognito's stand-in): discovery, JWKS with key rotation, client credentials.

Keys live in one JSON file (mode 0600) so `twin token` and a running API agree on them. Rotation adds
a new signing key in front and keeps the previous ones published (`keep` of them) so tokens they
signed still verify until they expire; resource servers pick the new key up on its unknown `kid`.

`POST /oauth2/token` speaks RFC 6749's client-credentials grant (client id and secret in HTTP Basic or
in the form); clients come from a YAML file that stores only a SHA-256 of each secret. Its errors are
RFC 6749's `{"error": ...}` bodies, which OAuth client libraries expect, not problem+json.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.api.identity import NAME_RE, ROLE_RE
from twin.errors import TwinError

MAX_TTL_S = 24 * 3600


class IssuerError(TwinError, ValueError):
    """A key file or clients file twin cannot use; the message names the file and what to fix."""


class SigningKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kid: str
    private_pem: str
    created_at: float


class KeyFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    keys: tuple[SigningKey, ...]  # newest first; the first one signs


def _new_key(clock: Callable[[], float]) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(kid=uuid.uuid4().hex[:16], private_pem=pem, created_at=clock())


class KeyStore:
    """The issuer's signing keys, kept in `path`; created with one key when missing."""

    def __init__(self, path: Path, *, keep: int = 2, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.keep = keep
        self.clock = clock
        self._loaded: tuple[float, KeyFile] | None = None
        # parsed keys by kid: loading a PEM runs RSA consistency checks (~0.1 s), once per key is enough
        self._parsed: dict[str, Any] = {}

    def _read(self) -> KeyFile:
        if not self.path.exists():
            self._create()
        mtime = self.path.stat().st_mtime
        if self._loaded is None or self._loaded[0] != mtime:
            try:
                data = KeyFile.model_validate_json(self.path.read_text())
            except (ValidationError, ValueError) as exc:
                raise IssuerError(f"{self.path} is not an issuer key file; delete it to start over") from exc
            if not data.keys:
                raise IssuerError(f"{self.path} holds no key; delete it to start afresh")
            self._loaded = (mtime, data)
        return self._loaded[1]

    def _tmp(self, data: KeyFile) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # private keys: owner-only from the first byte; a name of its own so writers never interleave
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(data.model_dump_json(indent=2))
        return tmp

    def _create(self) -> None:
        # several workers may start at once: the first link wins and every other one reads its key,
        # so no worker signs with a key that another one's write has already replaced
        tmp = self._tmp(KeyFile(keys=(_new_key(self.clock),)))
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        self._loaded = None

    def _write(self, data: KeyFile) -> None:
        os.replace(self._tmp(data), self.path)
        self._loaded = None

    def signing_key(self) -> SigningKey:
        return self._read().keys[0]

    def rotate(self) -> SigningKey:
        current = self._read().keys
        fresh = _new_key(self.clock)
        self._write(KeyFile(keys=(fresh, *current[: max(self.keep - 1, 0)])))
        return fresh

    def private_key(self, key: SigningKey) -> Any:
        parsed = self._parsed.get(key.kid)
        if parsed is None:
            parsed = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
            self._parsed[key.kid] = parsed
        return parsed

    def jwks(self) -> dict[str, Any]:
        out = []
        for k in self._read().keys:
            public = self.private_key(k).public_key()
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
            out.append({**jwk, "kid": k.kid, "use": "sig", "alg": "RS256"})
        return {"keys": out}


class ClientConfig(BaseModel):
    """A machine client allowed the client-credentials grant, and what its tokens say."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str = Field(pattern=NAME_RE.pattern)
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the client secret")
    role: str = Field(pattern=ROLE_RE.pattern)
    department: str | None = Field(default=None, pattern=NAME_RE.pattern)
    entitlements: tuple[str, ...] = ()
    ttl_s: int = Field(default=3600, gt=0, le=MAX_TTL_S)

    @field_validator("entitlements")
    @classmethod
    def _names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for e in v:
            if not NAME_RE.fullmatch(e):
                raise ValueError(f"entitlement {e!r} is not a valid name (letters, digits, _.:@- )")
        return v


class ClientsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    clients: tuple[ClientConfig, ...] = ()

    @classmethod
    def load(cls, path: Path) -> ClientsFile:
        try:
            raw = yaml.safe_load(path.read_text()) or {}
            return cls.model_validate(raw)
        except yaml.YAMLError as exc:
            raise IssuerError(f"{path}: not valid YAML ({exc})") from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise IssuerError(f"{path}: {where}: {first['msg']}") from exc

    def find(self, client_id: str) -> ClientConfig | None:
        return next((c for c in self.clients if c.client_id == client_id), None)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class IssuerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1)
    audience: str = Field(default="twin-api", min_length=1)


class LocalIssuer:
    def __init__(
        self,
        config: IssuerConfig,
        keys: KeyStore,
        clients: ClientsFile | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.keys = keys
        self.clients = clients or ClientsFile()
        self.clock = clock

    def mint(
        self,
        *,
        role: str,
        client_id: str,
        department: str | None = None,
        entitlements: Sequence[str] = (),
        ttl_s: int = 3600,
        subject: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token; the values are checked as strictly as the resource server checks them."""
        if not ROLE_RE.fullmatch(role.upper()):
            raise IssuerError(f"role {role!r} is not a role name (letters, digits and _)")
        for label, value in (
            ("client", client_id),
            ("department", department),
            *(("entitlement", e) for e in entitlements),
        ):
            if value is not None and not NAME_RE.fullmatch(value):
                raise IssuerError(f"{label} {value!r} is not a valid name (letters, digits, _.:@- )")
        if not 0 < ttl_s <= MAX_TTL_S:
            raise IssuerError(f"ttl {ttl_s}s is outside 1..{MAX_TTL_S} seconds")
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.config.issuer,
            "sub": subject or client_id,
            "aud": self.config.audience,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": secrets.token_hex(8),
            "token_use": "access",
            "client_id": client_id,
            "role": role.upper(),
            "entitlements": list(entitlements),
        }
        if department is not None:
            claims["department"] = department
        claims.update(extra or {})
        key = self.keys.signing_key()
        return jwt.encode(claims, self.keys.private_key(key), algorithm="RS256", headers={"kid": key.kid})

    def discovery(self) -> dict[str, Any]:
        base = self.config.issuer.rstrip("/")
        return {
            "issuer": self.config.issuer,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "token_endpoint": f"{base}/oauth2/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
        }

    def client_credentials(self, client_id: str, secret: str) -> dict[str, Any] | None:
        """The token response for a known client with the right secret, else None."""
        client = self.clients.find(client_id)
        # compare a digest either way, so an unknown client costs what a wrong secret costs
        expected = client.secret_sha256 if client else "0" * 64
        ok = hmac.compare_digest(hash_secret(secret), expected)
        if client is None or not ok:
            return None
        token = self.mint(
            role=client.role, client_id=client.client_id, department=client.department,
            entitlements=client.entitlements, ttl_s=client.ttl_s,
        )  # fmt: skip
        return {"access_token": token, "token_type": "Bearer", "expires_in": client.ttl_s}


def _oauth_error(status: int, error: str, description: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", **headers},
    )


def _basic(request: Request) -> tuple[str, str] | None:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        return None
    try:
        user, _, pw = base64.b64decode(auth[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, pw


def issuer_router(issuer: LocalIssuer) -> APIRouter:
    """Discovery, JWKS and the token endpoint, mounted at the issuer's root."""
    router = APIRouter(include_in_schema=False)

    @router.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return issuer.discovery()

    @router.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return issuer.keys.jwks()

    @router.post("/oauth2/token")
    async def token(request: Request) -> JSONResponse:
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error(400, "invalid_request", "send the grant as application/x-www-form-urlencoded")
        # parsed here rather than with python-multipart: one small urlencoded body, a bounded size
        raw = await request.body()
        if len(raw) > 8192:
            return _oauth_error(400, "invalid_request", "the token request is larger than 8 KiB")
        try:
            form = dict(parse_qsl(raw.decode("ascii"), keep_blank_values=True, max_num_fields=20))
        except (UnicodeDecodeError, ValueError):
            return _oauth_error(400, "invalid_request", "the token request is not a valid form")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is served")
        creds = _basic(request)
        if creds is None:
            cid, sec = form.get("client_id"), form.get("client_secret")
            creds = (cid, sec) if isinstance(cid, str) and isinstance(sec, str) else None
        if creds is None:
            return _oauth_error(401, "invalid_client", "client authentication missing",
                                **{"WWW-Authenticate": 'Basic realm="twin"'})  # fmt: skip
        body = issuer.client_credentials(*creds)
        if body is None:
            return _oauth_error(401, "invalid_client", "unknown client or wrong secret",
                                **{"WWW-Authenticate": 'Basic realm="twin"'})  # fmt: skip
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return router
