"""Signed digests: cutting the log short, emptying it, deleting it and starting over, deleting digests
and re-sealing with a key of one's own are all detected, like CloudTrail's log-file validation."""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from twin.governance.audit import GENESIS, AuditError, AuditLog, AuditPaths, record_hash, verify_log
from twin.governance.audit_digest import Digest, canonical, fingerprint, list_digests


def _write(path: Path, n: int, **kw: object) -> AuditPaths:
    with AuditLog(path, **kw) as log:  # type: ignore[arg-type]
        for i in range(n):
            log.append("query", user=f"u{i}", sql=f"SELECT {i}", allowed=True)
        return log.paths


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_a_closed_log_is_sealed_to_its_last_record(tmp_path: Path) -> None:
    paths = _write(tmp_path / "a.jsonl", 5)
    r = verify_log(paths)
    assert r.ok and r.records == 5 and r.digests == 1 and r.sealed_records == 5 and r.unsealed_records == 0
    _write(tmp_path / "a.jsonl", 2)
    r = verify_log(paths)
    assert r.ok and r.records == 7 and r.digests == 2 and r.sealed_records == 7


def test_digests_are_written_every_n_records_and_after_t_seconds(tmp_path: Path) -> None:
    now = [0.0]
    log = AuditLog(tmp_path / "a.jsonl", digest_every=3, digest_seconds=60, clock=lambda: now[0])
    for _ in range(7):
        log.append("x")
    assert len(list_digests(log.paths.digest_dir)) == 2  # after records 3 and 6
    now[0] = 61.0
    log.append("x")  # 8: the interval has passed since the digest at 6
    assert len(list_digests(log.paths.digest_dir)) == 3
    log.close()
    assert len(list_digests(log.paths.digest_dir)) == 3  # nothing new since: no empty digest
    digest = json.loads(log.paths.digest_file(3).read_text())
    assert (digest["first_record"], digest["last_record"], digest["previous_last_record"]) == (7, 8, 6)
    assert digest["previous_signature"] == json.loads(log.paths.digest_file(2).read_text())["signature"]


def test_truncating_by_one_record_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 6)
    p.write_bytes(b"".join(_lines(p)[:-1]))
    r = verify_log(paths)
    assert not r.ok and "truncated" in (r.reason or "") and r.bad_digest == 1 and r.records == 5


def test_emptying_the_log_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 4)
    p.write_bytes(b"")
    r = verify_log(paths)
    assert not r.ok and "truncated" in (r.reason or "") and r.records == 0


def test_deleting_the_log_and_starting_over_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 4)
    p.unlink()
    _write(p, 6)  # a fresh chain from seq 1, longer than the old one
    r = verify_log(paths)
    assert not r.ok and r.bad_digest == 1 and "rewritten" in (r.reason or "")
    p.unlink()
    _write(p, 2)  # and a shorter one: the newest digest seals fewer records than the one before
    r = verify_log(paths)
    assert not r.ok and r.bad_digest == 1


def test_deleting_the_log_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 4)
    p.unlink()
    r = verify_log(paths)
    assert not r.ok and "the log is missing" in (r.reason or "") and "seal 4 records" in (r.reason or "")


def test_writers_in_several_threads_share_one_chain_and_digest_chain(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"

    def work(k: int) -> None:
        with AuditLog(p, digest_every=25) as log:  # each its own file handle: flock serialises them
            for i in range(100):
                log.append("query", user=f"w{k}", sql=f"SELECT {i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = verify_log(AuditPaths.for_log(p))
    assert r.ok and r.records == 300 and r.sealed_records == 300 and r.digests >= 12


def test_deleting_log_and_digests_and_starting_over_is_detected_by_the_signers_head(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 4)
    p.unlink()
    for _, d in list_digests(paths.digest_dir):
        d.unlink()
    r = verify_log(paths)
    assert not r.ok and "the log is missing" in (r.reason or "")
    _write(p, 3)  # the next writer chains from the head: its digest 2 names a digest 1 that is gone
    r = verify_log(paths)
    assert not r.ok and "digest 1 is missing" in (r.reason or "")


def test_deleting_a_digest_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 2)
    _write(p, 2)
    _write(p, 2)
    assert verify_log(paths).digests == 3
    paths.digest_file(2).unlink()
    r = verify_log(paths)
    assert not r.ok and "digest 2 is missing" in (r.reason or "") and r.bad_digest == 2


def test_deleting_the_newest_digest_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 2)
    _write(p, 2)
    paths.digest_file(2).unlink()
    r = verify_log(paths)
    assert not r.ok and "digests 2..2 are missing" in (r.reason or "")


def _reseal(p: Path, paths: AuditPaths, edit: int) -> Ed25519PrivateKey:
    """What someone who can write the log, the digests and the head but not read the private key can
    do: edit a record, re-chain every hash after it, and sign fresh digests with a key of their own."""
    recs = [json.loads(x) for x in _lines(p)]
    recs[edit]["user"] = "mallory"
    prev = GENESIS
    out = []
    for r in recs:
        r.pop("hash")
        r["prev"] = prev
        r["hash"] = prev = record_hash(prev, r)
        out.append(canonical(r) + b"\n")
    p.write_bytes(b"".join(out))
    mine = Ed25519PrivateKey.generate()
    for _, d in list_digests(paths.digest_dir):
        d.unlink()
    forged = Digest(
        log=p.name,
        number=1,
        first_record=1,
        last_record=len(recs),
        last_hash=prev,
        previous_signature=None,
        previous_last_record=0,
        created="2026-01-01T00:00:00+00:00",
        key_fingerprint=fingerprint(mine.public_key()),
    )
    forged = forged.model_copy(update={"signature": base64.b64encode(mine.sign(forged.payload())).decode()})
    body = canonical(forged.model_dump()) + b"\n"
    paths.digest_file(1).write_bytes(body)
    paths.head.write_bytes(body)
    return mine


def test_resealing_with_a_self_made_key_fails_verification(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 5)
    _reseal(p, paths, edit=2)
    r = verify_log(paths)
    assert not r.ok and "does not verify with the public key" in (r.reason or "")


def test_a_pinned_public_key_catches_a_replaced_public_key_file(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 5)
    pinned = tmp_path / "trusted.pub"
    pinned.write_bytes(paths.public_key.read_bytes())
    mine = _reseal(p, paths, edit=0)
    from cryptography.hazmat.primitives import serialization

    paths.public_key.write_bytes(
        mine.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert verify_log(paths).ok  # the keys folder itself was rewritten: only a pinned key can tell
    assert not verify_log(paths, public_key=pinned).ok


def test_a_rechained_edit_inside_the_sealed_range_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 5)
    recs = [json.loads(x) for x in _lines(p)]
    recs[1]["sql"] = "SELECT 'forged'"
    prev = GENESIS
    out = []
    for r in recs:
        r.pop("hash")
        r["prev"] = prev
        r["hash"] = prev = record_hash(prev, r)
        out.append(canonical(r) + b"\n")
    p.write_bytes(b"".join(out))
    r = verify_log(paths)
    assert not r.ok and "record 5 is not the one digest 1 sealed" in (r.reason or "")


def test_records_after_the_newest_digest_are_reported_unsealed(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    _write(p, 3)
    log = AuditLog(p)
    log.append("query", sql="SELECT 1")
    r = log.verify()  # before close: one record not sealed yet
    assert r.ok and r.sealed_records == 3 and r.unsealed_records == 1
    log.close()
    assert log.verify().unsealed_records == 0


def test_duplicate_json_keys_are_rejected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 3)
    lines = _lines(p)
    # A reader that keeps the first value would see allowed=false; Python's json keeps the last.
    lines[1] = lines[1].replace(b'{"allowed":true', b'{"allowed":false,"allowed":true', 1)
    p.write_bytes(b"".join(lines))
    r = verify_log(paths)
    assert not r.ok and r.first_bad_line == 2 and "duplicate key 'allowed'" in (r.reason or "")


def test_a_record_not_in_canonical_form_is_rejected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 3)
    lines = _lines(p)
    lines[2] = json.dumps(json.loads(lines[2])).encode() + b"\n"  # same content, other spelling
    p.write_bytes(b"".join(lines))
    r = verify_log(paths)
    assert not r.ok and r.first_bad_line == 3 and "canonical" in (r.reason or "")


def test_files_get_their_modes_and_the_key_stays_out_of_the_logs_folder(tmp_path: Path) -> None:
    old = os.umask(0o077)  # the modes are set explicitly, not left to the umask
    try:
        paths = _write(tmp_path / "a.jsonl", 2)
    finally:
        os.umask(old)

    def mode(p: Path) -> int:
        return stat.S_IMODE(p.stat().st_mode)

    assert paths.key_dir != paths.log.parent
    assert mode(paths.key_dir) == 0o700 and mode(paths.private_key) == 0o600
    assert mode(paths.log) == 0o640 and mode(paths.digest_file(1)) == 0o640
    assert not list(tmp_path.glob("*.key")) and not list(tmp_path.glob("*.ed25519"))
    with pytest.raises(AuditError, match="must not sit in the log's own folder"):
        AuditLog(tmp_path / "a.jsonl", key_dir=tmp_path)


def test_an_existing_world_readable_log_is_narrowed(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_bytes(b"")
    os.chmod(p, 0o644)
    _write(p, 1)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640


def test_keys_and_digests_go_where_configured(tmp_path: Path) -> None:
    paths = _write(tmp_path / "logs" / "a.jsonl", 2, key_dir=tmp_path / "vault", digest_dir=tmp_path / "dg")
    assert paths.private_key.parent == tmp_path / "vault" and list_digests(tmp_path / "dg")
    assert not (tmp_path / "logs" / "keys").exists()
    assert verify_log(paths).ok


def test_the_pseudonym_secret_is_stable_and_not_the_signing_key(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl") as a:
        first = a.pseudonym_key
    with AuditLog(tmp_path / "a.jsonl") as b:
        assert b.pseudonym_key == first and len(first) == 32
        assert first not in b.paths.private_key.read_bytes()


def test_a_legacy_hmac_log_is_refused_with_what_to_do(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    _write(p, 2)
    key = tmp_path / "a.jsonl.key"  # what the first format kept beside the log
    key.write_text("00" * 32)
    lines = [json.loads(x) for x in _lines(p)]
    lines[-1]["hash"] = "f" * 64  # an HMAC, not the SHA-256 this version computes
    p.write_bytes(b"".join(canonical(r) + b"\n" for r in lines))
    with pytest.raises(AuditError, match=r"old format.*Start a new log"):
        AuditLog(p)
    p.write_bytes(b"".join(canonical(r) + b"\n" for r in [dict(lines[0], hash="e" * 64)]))
    r = verify_log(AuditPaths.for_log(p))
    assert not r.ok and "Start a new log" in (r.reason or "")


def test_reserved_fields_cannot_be_passed(tmp_path: Path) -> None:
    with AuditLog(tmp_path / "a.jsonl") as log, pytest.raises(AuditError, match="set by the log"):
        log.append("query", hash="x")
