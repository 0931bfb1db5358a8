"""Small, careful process and port helpers: a recorded pid is only signalled while it is still the
Kafka process we started (pids get reused), and ports are probed on 127.0.0.1 only."""

from __future__ import annotations

import os
import signal
import socket
import time
from contextlib import ExitStack, suppress
from pathlib import Path


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports the kernel says are free right now; all sockets stay open until every port is picked, so
    the list has no repeats."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers signal 0.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def is_our_process(pid: int | None, marker: str) -> bool:
    """True while `pid` runs a command line containing `marker` (e.g. the node's properties path)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return marker in cmdline


def reap(pid: int) -> None:
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_pid(pid: int, marker: str, grace_s: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after `grace_s`. Returns False when the pid was not ours (left alone)."""
    return bool(stop_pids([(pid, marker)], grace_s))


def stop_pids(targets: list[tuple[int, str]], grace_s: float = 15.0) -> list[int]:
    """Stop several (pid, marker) processes together: all get SIGTERM at once (so a cluster's nodes shut
    down in parallel, not one grace period after another), stragglers SIGKILL. Returns the pids stopped;
    pids that are no longer ours are left alone."""
    ours = [pid for pid, marker in targets if is_our_process(pid, marker)]
    for pid in ours:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    remaining = list(ours)
    while remaining and time.monotonic() < deadline:
        for pid in remaining:
            reap(pid)
        remaining = [pid for pid in remaining if pid_alive(pid)]
        if remaining:
            time.sleep(0.1)
    for pid in remaining:
        kill_pid(pid)
    return ours


def kill_pid(pid: int, timeout_s: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reap(pid)
        if not pid_alive(pid):
            return
        time.sleep(0.05)
