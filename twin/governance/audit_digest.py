"""Signed digests over the audit log (the CloudTrail log-file integrity validation stand-in).

The record chain alone cannot show that the log was cut short, emptied, or deleted and started over,
and a keyless (or beside-the-log keyed) chain can be re-sealed by whoever can edit the log. A digest
fixes both: a small JSON file, kept in its own folder, that states how many records the log held and
the hash of the last one, names the previous digest's signature (so digests chain like CloudTrail's
`previousDigestSignature`) and is signed with an Ed25519 private key. Verifying needs only the public
key; forging a digest needs the private key, which lives in a keys folder (0700, key 0600) that does
not have to be readable, or even present, where the log is verified.

The signer also keeps a copy of the newest digest beside its key (the *head*), and always chains the
next digest from the head rather than from the digest folder. So deleting the newest digests, or
deleting log and digests and starting over, leaves a head (or a new digest) that names digests that
no longer exist, as long as the keys folder is out of the tamperer's reach.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from twin.governance.errors import GovernanceError

DIGEST_VERSION = 1
_DIGEST_NAME = re.compile(r"^digest-(\d{8})\.json$")
KEY_MODE = 0o600
KEY_DIR_MODE = 0o700
FILE_MODE = 0o640  # log, digests, quarantine: the owner writes, an auditors' group may read
DIR_MODE = 0o750


class AuditError(GovernanceError):
    """The audit trail cannot be written or read as asked; the message says which file and what to do."""


class DuplicateKey(ValueError):
    """A JSON object names the same key twice: readers disagree on which value counts, so refuse it."""


def strict_loads(raw: bytes | str) -> Any:
    return json.loads(raw, object_pairs_hook=_no_duplicates)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(f"duplicate key {k!r}")
        out[k] = v
    return out


# One encoder for every record: json.dumps with options builds a new encoder on each call, which is a
# measurable share of an audited query's cost.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def canonical(obj: dict[str, Any]) -> bytes:
    return _CANONICAL.encode(obj).encode()


class Digest(BaseModel):
    """One signed statement about the log: records 1..last_record exist and the last one hashes to
    last_hash. `first_record` is where the previous digest stopped plus one (the range this digest adds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = DIGEST_VERSION
    log: str
    number: int
    first_record: int
    last_record: int
    last_hash: str
    previous_signature: str | None
    previous_last_record: int
    created: str
    algorithm: str = "Ed25519"
    key_fingerprint: str
    signature: str = ""

    def payload(self) -> bytes:
        return canonical(self.model_dump(exclude={"signature"}))

    def signed_by(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(base64.b64decode(self.signature, validate=True), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True


class AuditPaths(BaseModel):
    """Where one log's companions live. Defaults keep them out of the log's own folder's top level:
    digests in `<log>.digests/`, the key pair and head in `keys/` beside the log (under TWIN_HOME)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    log: Path
    key_dir: Path
    digest_dir: Path

    @classmethod
    def for_log(cls, log: Path, *, key_dir: Path | None = None, digest_dir: Path | None = None) -> AuditPaths:
        return cls(
            log=log,
            key_dir=key_dir or log.parent / "keys",
            digest_dir=digest_dir or log.with_name(log.name + ".digests"),
        )

    @property
    def private_key(self) -> Path:
        return self.key_dir / f"{self.log.name}.ed25519"

    @property
    def public_key(self) -> Path:
        return self.key_dir / f"{self.log.name}.ed25519.pub"

    @property
    def head(self) -> Path:
        return self.key_dir / f"{self.log.name}.head.json"

    @property
    def legacy_key(self) -> Path:
        """The HMAC key the first format kept beside the log."""
        return self.log.with_name(self.log.name + ".key")

    @property
    def quarantine(self) -> Path:
        return self.log.with_name(self.log.name + ".quarantine")

    def digest_file(self, number: int) -> Path:
        return self.digest_dir / f"digest-{number:08d}.json"


def fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _tmp_beside(path: Path) -> Path:
    # Unique per call: threads of one process may race to create the same file.
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def write_exclusive(path: Path, data: bytes, mode: int) -> bool:
    """Create `path` with `data` atomically (temp file + hard link); False when it already exists."""
    tmp = _tmp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # the umask may have narrowed (or a caller's widened) the mode
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink()


def write_replace(path: Path, data: bytes, mode: int) -> None:
    tmp = _tmp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def make_dir(path: Path, mode: int) -> None:
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)


def load_or_create_key(paths: AuditPaths) -> Ed25519PrivateKey:
    """The signer's private key, created on first use (0600 in a 0700 folder). Writers only."""
    make_dir(paths.key_dir, KEY_DIR_MODE)
    if not paths.private_key.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Two processes may race to create it: the first link wins, the loser reads the winner's key.
        if write_exclusive(paths.private_key, pem, KEY_MODE):
            pub = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            write_replace(paths.public_key, pub, 0o644)
    try:
        loaded = serialization.load_pem_private_key(paths.private_key.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise AuditError(f"{paths.private_key} is not an Ed25519 private key (PEM): {e}") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise AuditError(f"{paths.private_key} is not an Ed25519 private key")
    key = loaded
    if not paths.public_key.exists():
        pub = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        write_replace(paths.public_key, pub, 0o644)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as e:
        raise AuditError(f"cannot read the public key {path}: {e.strerror}") from None
    except ValueError as e:
        raise AuditError(f"{path} is not a PEM public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError(f"{path} is not an Ed25519 public key")
    return key


def read_digest(path: Path) -> Digest:
    """Parse one digest file (duplicate keys and unknown fields refused)."""
    try:
        return Digest.model_validate(strict_loads(path.read_bytes()))
    except (ValueError, ValidationError) as e:
        first = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise AuditError(f"{path.name} is not a digest: {first}") from None


def read_head(paths: AuditPaths) -> Digest | None:
    if not paths.head.exists():
        return None
    return read_digest(paths.head)


def list_digests(digest_dir: Path) -> list[tuple[int, Path]]:
    if not digest_dir.is_dir():
        return []
    out = []
    for p in digest_dir.iterdir():
        m = _DIGEST_NAME.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def sign_next(
    key: Ed25519PrivateKey, paths: AuditPaths, *, records: int, last_hash: str, created: str
) -> Digest | None:
    """Write the next digest for a log of `records` records ending in `last_hash` (caller holds the log's
    lock). Chains from the signer's head, not from the digest folder, so deleted digests stay missing.
    None when the head already states exactly this."""
    head = read_head(paths)
    if head is not None and head.last_record == records and head.last_hash == last_hash:
        return None
    if head is None and records == 0:
        return None
    unsigned = Digest(
        log=paths.log.name,
        number=head.number + 1 if head else 1,
        first_record=head.last_record + 1 if head else 1,
        last_record=records,
        last_hash=last_hash,
        previous_signature=head.signature if head else None,
        previous_last_record=head.last_record if head else 0,
        created=created,
        key_fingerprint=fingerprint(key.public_key()),
    )
    digest = unsigned.model_copy(
        update={"signature": base64.b64encode(key.sign(unsigned.payload())).decode()}
    )
    body = canonical(digest.model_dump()) + b"\n"
    make_dir(paths.digest_dir, DIR_MODE)
    target = paths.digest_file(digest.number)
    if not write_exclusive(target, body, FILE_MODE):
        # Never overwrite a digest: keep the one found (verify will judge it) and say so beside it.
        with contextlib.suppress(FileExistsError):
            write_exclusive(target.with_name(target.stem + ".conflict.json"), body, FILE_MODE)
    write_replace(paths.head, body, KEY_MODE)
    return digest
