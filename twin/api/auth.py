"""The OIDC resource server: validates RS256 access tokens against an issuer's published keys.

It reads the issuer's discovery document and JWKS once and caches them; a token signed with a key id
it does not know triggers one refetch (that is how key rotation reaches it), but refetches are spaced
by `jwks_min_refresh_s` so a flood of made-up `kid`s cannot turn into a flood of calls to the issuer.

What is checked, in order, each failure a 401 with a reason: the token parses; its `alg` is on the
allowlist (RS256 only, which rejects `none` and the classic HS256-signed-with-the-public-key forgery
before any key is touched); its `kid` is a published RSA signing key; the signature; `iss` equals the
pinned issuer; `exp`, `nbf` and `iat` with a small leeway; the audience (`aud`, or `client_id` for
Cognito access tokens, which carry no `aud`); the claims the principal needs. Keys come only from the
configured issuer: a token's own `jku`/`x5u`/`jwk` headers are never followed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field

from twin.api.identity import Principal, principal_from_claims
from twin.api.problems import ServiceUnavailable, Unauthorized

REQUIRED_CLAIMS = ("iss", "sub", "exp", "iat")


class ResourceServerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1, description="the `iss` every token must carry (pinned)")
    audiences: tuple[str, ...] = Field(min_length=1, description="accepted `aud` (or Cognito `client_id`)")
    discovery_url: str | None = None  # default: {issuer}/.well-known/openid-configuration
    jwks_uri: str | None = None  # set to skip discovery
    algorithms: tuple[str, ...] = ("RS256",)
    leeway_s: float = Field(default=30.0, ge=0, le=300)
    jwks_ttl_s: float = Field(default=3600.0, gt=0)
    jwks_min_refresh_s: float = Field(default=30.0, ge=0)
    http_timeout_s: float = Field(default=5.0, gt=0)

    def discovery(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class KeySource(Protocol):
    """Where the published keys come from: the JWKS document (`{"keys": [...]}`)."""

    def fetch(self) -> Mapping[str, Any]: ...


class HttpKeySource:
    """Discovery document → `jwks_uri` → JWKS, over HTTP (an injected transport in tests)."""

    def __init__(self, config: ResourceServerConfig, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._client = httpx.Client(timeout=config.http_timeout_s, transport=transport)
        self._jwks_uri: str | None = config.jwks_uri

    def _get(self, url: str) -> Mapping[str, Any]:
        try:
            response = self._client.get(url)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceUnavailable(f"the identity provider could not be reached ({url})") from exc
        if not isinstance(body, dict):
            raise ServiceUnavailable(f"the identity provider answered no JSON object at {url}")
        return body

    def fetch(self) -> Mapping[str, Any]:
        if self._jwks_uri is None:
            doc = self._get(self.config.discovery())
            # the discovery document must describe the pinned issuer, not some other one
            if doc.get("issuer") != self.config.issuer or not isinstance(doc.get("jwks_uri"), str):
                raise ServiceUnavailable("the discovery document names another issuer or no jwks_uri")
            self._jwks_uri = doc["jwks_uri"]
        return self._get(self._jwks_uri)


class StaticKeySource:
    """Keys handed over in process (the local issuer in the same app, tests)."""

    def __init__(self, fetch: Callable[[], Mapping[str, Any]]) -> None:
        self._fetch = fetch

    def fetch(self) -> Mapping[str, Any]:
        return self._fetch()


def _usable(jwk: Mapping[str, Any], algorithms: tuple[str, ...]) -> bool:
    """An RSA key published for signatures, with no conflicting `alg`."""
    if jwk.get("kty") != "RSA" or not isinstance(jwk.get("kid"), str):
        return False
    if jwk.get("use", "sig") != "sig":
        return False
    return jwk.get("alg", algorithms[0]) in algorithms


class ResourceServer:
    def __init__(
        self, config: ResourceServerConfig, source: KeySource, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.source = source
        self.clock = clock
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        self.fetches = 0

    def _refresh(self, *, force: bool) -> None:
        with self._lock:
            now = self.clock()
            if self._fetched_at is not None:
                age = now - self._fetched_at
                if age < self.config.jwks_min_refresh_s or (not force and age < self.config.jwks_ttl_s):
                    return
            try:
                jwks = self.source.fetch()
            except ServiceUnavailable:
                if not self._keys:
                    raise
                # the issuer is down but its keys were fetched before: keep verifying with them, and
                # try again after the minimum refresh interval rather than on every request
                self._fetched_at = now - self.config.jwks_ttl_s + self.config.jwks_min_refresh_s
                return
            keys: dict[str, Any] = {}
            for jwk in jwks.get("keys", []) if isinstance(jwks.get("keys"), list) else []:
                if isinstance(jwk, dict) and _usable(jwk, self.config.algorithms):
                    try:
                        keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
                    except jwt.PyJWTError:
                        continue  # one malformed key must not hide the others
            self._keys = keys
            self._fetched_at = now
            self.fetches += 1

    def ready(self) -> bool:
        """True when the issuer's keys are known (fetched now if they never were)."""
        try:
            self._refresh(force=False)
        except ServiceUnavailable:
            return False
        return bool(self._keys)

    def _key(self, kid: str) -> Any:
        self._refresh(force=False)
        if kid not in self._keys:
            self._refresh(force=True)  # rotation: the issuer may have published a new key
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized(f"the token was signed with an unknown key (kid {kid[:64]!r})")
        return key

    def verify(self, token: str) -> dict[str, Any]:
        """The token's verified claims, or Unauthorized naming the first check that failed."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("the access token is not a well-formed JWT") from exc
        alg = header.get("alg")
        if alg not in self.config.algorithms:
            raise Unauthorized(f"the token's alg {str(alg)[:16]!r} is not accepted (only RS256)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("the token's header names no key id (kid)")
        key = self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.config.algorithms),
                issuer=self.config.issuer,
                leeway=self.config.leeway_s,
                options={"require": list(REQUIRED_CLAIMS), "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("the token is not valid yet (nbf/iat in the future)") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("the token was issued by another issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"the token has no `{exc.claim}` claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthorized("the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is not valid: {exc}") from exc
        self._check_audience(claims)
        return claims

    def _check_audience(self, claims: Mapping[str, Any]) -> None:
        if claims.get("token_use") == "access" and "aud" not in claims:
            # Cognito access tokens: the app client stands where `aud` would be
            audiences = [claims.get("client_id")]
        else:
            aud = claims.get("aud")
            audiences = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a in self.config.audiences for a in audiences):
            raise Unauthorized("the token is not meant for this API (audience)")

    def authenticate(self, token: str) -> Principal:
        return principal_from_claims(self.verify(token), issuer=self.config.issuer)
