"""`twin sql` as real processes: readers share the warehouse, a writer is a clear audited error, and a
3 GB value fails without the process growing to hold it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.governance.gold_data import build
from twin.governance.ddl import load_shipped
from twin.governance.store import apply_policies

# Holds the warehouse open until its stdin closes: read-only (another reader) or read-write (a writer).
HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    wh = build(home / "warehouse.duckdb")
    apply_policies(wh.con, load_shipped())
    wh.close()
    return home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TWIN_LIMITS"}
    env["TWIN_HOME"] = str(home)
    return env


def _twin_sql(home: Path, sql: str, role: str = "WEALTH_ADMIN") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "twin", "sql", "--role", role, "--format", "json", sql],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def holder(home: Path) -> Iterator[object]:
    procs: list[subprocess.Popen[str]] = []

    def hold(mode: str) -> subprocess.Popen[str]:
        p = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(home / "warehouse.duckdb"), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        return p

    yield hold
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
        p.wait(timeout=60)


def test_two_twin_sql_processes_read_at_once_beside_another_reader(home: Path, holder) -> None:
    # A read-only connection held open the whole time: a reader that wanted the write lock would fail.
    holder("ro")
    sql = "SELECT count(*) AS n FROM gold.customer_360"
    procs = [_twin_sql(home, sql), _twin_sql(home, sql)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out) == [{"n": 40}]


def test_a_writer_holding_the_file_is_a_clear_audited_error(home: Path, holder) -> None:
    writer = holder("rw")
    p = _twin_sql(home, "SELECT 1 AS x")
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in err
    message = " ".join(err.split())
    assert f"PID {writer.pid}" in message and "retry" in message
    records = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    assert records[-1]["sql"] == "SELECT 1 AS x"
    assert records[-1]["allowed"] is False and f"PID {writer.pid}" in records[-1]["reason"]
    # The audit reader is a reader too: same clear error while the writer holds the file.
    q = subprocess.run(
        [sys.executable, "-m", "twin", "audit", "query", "--role", "COMPLIANCE_AUDITOR"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert q.returncode == 2 and f"PID {writer.pid}" in " ".join(q.stderr.split())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA and /proc are Linux's")
def test_an_eight_gigabyte_value_fails_cleanly_and_the_process_stays_small(home: Path) -> None:
    # Run `twin sql` under a small parent that reports its child's peak RSS (ru_maxrss, KiB).
    probe = (
        "import resource, subprocess, sys; "
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(r.returncode); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
        "sys.stderr.write(r.stderr)"
    )
    # repeat('x', 3e9) is refused by the firewall before it runs (a size-setting call needs a small literal
    # size); doubling a string in a recursive CTE is the same attack in allowed SQL: 2^33 bytes.
    sql = (
        "WITH RECURSIVE t(s, n) AS (SELECT 'x', 0 UNION ALL SELECT s || s, n + 1 FROM t WHERE n < 33) "
        "SELECT max(length(s)) FROM t"
    )
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", "twin", "sql", "--role", "WEALTH_ADMIN", sql]
    r = subprocess.run(cmd, env=_env(home), capture_output=True, text=True, timeout=300)
    code, peak_kib = (int(x) for x in r.stdout.split())
    assert code == 2, r.stderr
    assert "Traceback" not in r.stderr and "Out of Memory" in r.stderr
    assert peak_kib < 2 * 1024 * 1024, f"peak RSS {peak_kib // 1024} MiB"  # far below the 8 GB value
