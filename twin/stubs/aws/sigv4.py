"""SigV4 verification against known local credentials (the IAM stand-in of the AWS endpoint).

moto accepts any signature; the router in front of it does not. A request must carry an
`Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=…,
Signature=…` header from a key this endpoint knows; the signature is recomputed from the request as
received (method, raw path, query, the signed headers, the payload hash) exactly as botocore builds
it, and compared in constant time. The credential scope also tells the router which service a request
is for, which is how Data Exchange calls reach twin's own service.

Why an allowlist of keys and not "any well-formed signature": the point of the stand-in is that each
account sees only its own data, and an account is whoever holds its secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from botocore.utils import normalize_url_path
from pydantic import BaseModel, ConfigDict, Field

from twin.errors import TwinError

__all__ = [
    "AwsCredential",
    "CredentialStore",
    "SignatureError",
    "SignedRequest",
    "parse_authorization",
    "verify_request",
]

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
# botocore signs S3 paths as they are sent; every other service's path is URI-encoded once more.
_RAW_PATH_SERVICES = frozenset({"s3"})
# How far a request's X-Amz-Date may be from this clock (AWS allows 15 minutes).
MAX_SKEW = timedelta(minutes=15)


class AwsCredential(BaseModel):
    """An access key this endpoint knows: whose account it acts for, and a label for the audit trail."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    access_key_id: str = Field(pattern=r"^[A-Za-z0-9]{2,128}$")
    secret_access_key: str = Field(min_length=2)
    account_id: str = Field(pattern=r"^\d{12}$")
    name: str


class SignatureError(TwinError):
    """A request the endpoint refuses before any service sees it (AWS answers 403 for all of these)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class SignedRequest(BaseModel):
    """What a verified signature establishes: who, for which service and region."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    credential: AwsCredential
    service: str
    region: str


class CredentialStore:
    """The known keys, by access key id."""

    def __init__(self, credentials: Iterable[AwsCredential]) -> None:
        self._by_key: dict[str, AwsCredential] = {}
        for c in credentials:
            if c.access_key_id in self._by_key:
                raise ValueError(f"access key {c.access_key_id} is listed twice")
            self._by_key[c.access_key_id] = c

    def get(self, access_key_id: str) -> AwsCredential | None:
        return self._by_key.get(access_key_id)

    def all(self) -> list[AwsCredential]:
        return list(self._by_key.values())


def new_secret() -> str:
    return secrets.token_urlsafe(30)


def parse_authorization(header: str) -> dict[str, str] | None:
    m = _AUTH.match(header.strip())
    return m.groupdict() if m else None


def _canonical_query(raw_query: str) -> str:
    # botocore signs the query exactly as it put it on the URL (already encoded), pairs sorted.
    if not raw_query:
        return ""
    pairs = []
    for pair in raw_query.split("&"):
        key, _, value = pair.partition("=")
        pairs.append((key, value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def verify_request(
    store: CredentialStore,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
) -> SignedRequest:
    """Check a request's SigV4 signature; `headers` keyed by lower-case name. Raises SignatureError."""
    auth = headers.get("authorization", "")
    if not auth:
        raise SignatureError("MissingAuthenticationToken", "Request is missing Authentication Token")
    parts = parse_authorization(auth)
    if parts is None:
        raise SignatureError(
            "IncompleteSignature",
            "Authorization header is not AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…",
        )
    cred = store.get(parts["key"])
    if cred is None:
        raise SignatureError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    amz_date = headers.get("x-amz-date", "")
    try:
        stamp = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("IncompleteSignature", "X-Amz-Date is missing or not YYYYMMDDTHHMMSSZ") from None
    if not amz_date.startswith(parts["date"]):
        raise SignatureError("SignatureDoesNotMatch", "the credential scope date is not the X-Amz-Date day")
    if abs((now or datetime.now(UTC)) - stamp) > MAX_SKEW:
        raise SignatureError("InvalidSignatureException", "Signature expired: X-Amz-Date is 15+ minutes off")
    signed = parts["headers"].split(";")
    if "host" not in signed:
        raise SignatureError("IncompleteSignature", "the host header must be signed")
    missing = [h for h in signed if h not in headers]
    if missing:
        raise SignatureError("IncompleteSignature", f"signed header(s) {', '.join(missing)} not sent")
    service = parts["service"]
    path = raw_path or "/"
    if service not in _RAW_PATH_SERVICES:
        path = quote(normalize_url_path(path), safe="/~")
    actual = hashlib.sha256(body).hexdigest()
    payload = headers.get("x-amz-content-sha256") or actual
    # A declared payload hash is signed, so it must also be the body's (AWS: XAmzContentSHA256Mismatch);
    # only the literal "unsigned" markers S3 clients send stand in for one.
    if payload != actual and not payload.startswith(("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD")):
        raise SignatureError("XAmzContentSHA256Mismatch", "x-amz-content-sha256 is not the hash of the body")
    canonical = "\n".join(
        [
            method.upper(),
            path,
            _canonical_query(raw_query),
            "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed),
            parts["headers"],
            payload,
        ]
    )
    scope = f"{parts['date']}/{parts['region']}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _signing_key(cred.secret_access_key, parts["date"], parts["region"], service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["signature"]):
        raise SignatureError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
    return SignedRequest(credential=cred, service=service, region=parts["region"])
