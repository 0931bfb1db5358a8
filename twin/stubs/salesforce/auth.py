"""The org's credentials and access tokens.

Tokens are `<org id>!<nonce>.<HMAC>` under a secret kept in the state folder, so a token issued before a
restart is still valid after it (as a Salesforce session outlives a server restart), and the server
keeps no token table. Credentials are made once per state folder with `secrets` and written 0600.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from twin.errors import TwinError
from twin.stubs.salesforce.models import INTEGRATION_USER_ID, ORG_ID, SalesforceError


class Credentials(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str = "integration@twin.example.com"
    password: str
    consumer_key: str
    consumer_secret: str
    security_token: str
    token_secret: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            password=secrets.token_urlsafe(12),
            consumer_key="3MVG9twin" + secrets.token_urlsafe(24),
            consumer_secret=secrets.token_hex(32),
            security_token=secrets.token_urlsafe(18),
            token_secret=secrets.token_hex(32),
        )

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Credentials:
        path = state_dir / "credentials.json"
        if path.is_file():
            return cls.model_validate_json(path.read_text())
        creds = cls.generate()
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(creds.model_dump_json(indent=2))
        return creds

    # -- tokens --------------------------------------------------------------------------------
    def _mac(self, nonce: str) -> str:
        digest = hmac.new(self.token_secret.encode(), nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue_token(self) -> str:
        nonce = secrets.token_urlsafe(18)
        return f"{ORG_ID}!{nonce}.{self._mac(nonce)}"

    def check_token(self, authorization: str | None) -> str:
        """The user id behind an `Authorization: Bearer …` header, or 401 INVALID_SESSION_ID."""
        token = ""
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() in ("bearer", "oauth"):
                token = value.strip()
        org, _, rest = token.partition("!")
        nonce, _, mac = rest.partition(".")
        if org != ORG_ID or not nonce or not hmac.compare_digest(mac, self._mac(nonce)):
            raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        return INTEGRATION_USER_ID

    def password_grant(self, form: dict[str, str]) -> None:
        ok = (
            hmac.compare_digest(form.get("client_id", ""), self.consumer_key)
            and hmac.compare_digest(form.get("client_secret", ""), self.consumer_secret)
            and hmac.compare_digest(form.get("username", ""), self.username)
            and hmac.compare_digest(form.get("password", ""), self.password)
        )
        if not ok:
            raise OAuthError("invalid_grant", "authentication failure")

    def soap_grant(self, username: str, password_and_token: str) -> None:
        """The SOAP login: the password with the user's security token appended, as Salesforce expects."""
        ok = hmac.compare_digest(username, self.username) and hmac.compare_digest(
            password_and_token, self.password + self.security_token
        )
        if not ok:
            raise OAuthError(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            )

    def client_credentials_grant(self, form: dict[str, str], authorization: str | None) -> None:
        key, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", "invalid client credentials") from exc
            key, _, secret = decoded.partition(":")
        if not (
            hmac.compare_digest(key, self.consumer_key) and hmac.compare_digest(secret, self.consumer_secret)
        ):
            raise OAuthError("invalid_client", "invalid client credentials")


class OAuthError(TwinError):
    """The token endpoint's own error shape: `{error, error_description}` with HTTP 400."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error, self.description = error, description
