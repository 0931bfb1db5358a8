"""Running the stand-ins as background processes for live mode: start one, record it in a state file,
find exactly that process again to report on or stop it (pids get reused: a pid is only signalled
while its command line still names the stand-in's state folder).

The state file holds one entry per stand-in (`salesforce` today), so the AWS endpoint can join it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from twin.errors import TwinError
from twin.streaming.broker.processes import is_our_process, port_open, stop_pid


class StubStartError(TwinError):
    """A stand-in process did not come up; the message quotes its log."""


class SalesforceProcess(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pid: int = Field(ge=1)
    port: int = Field(ge=1, le=65535)
    instance_url: str
    login_domain: str
    username: str
    password: str
    security_token: str
    consumer_key: str
    consumer_secret: str
    ca_cert: Path
    cdc_topic: str | None
    state_dir: Path
    log: Path


class StubsState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    salesforce: SalesforceProcess | None = None


class StubHealth(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    url: str
    pid: int
    pid_alive: bool
    port_open: bool

    @property
    def healthy(self) -> bool:
        return self.pid_alive and self.port_open


def load_state(path: Path) -> StubsState | None:
    if not path.is_file():
        return None
    return StubsState.model_validate_json(path.read_text())


def save_state(state: StubsState, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # 0600: the file holds the org's password and consumer secret
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(state.model_dump_json(indent=2))
    tmp.replace(path)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_salesforce(
    state_dir: Path,
    *,
    fixtures: Path | None = None,
    bootstrap: str | None = None,
    api_limit: int = 5_000,
    port: int = 0,
    timeout_s: float = 30.0,
) -> SalesforceProcess:
    """Start the Salesforce stand-in in its own session (it outlives this command) and wait until it
    has bound its port and written its endpoint."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    ready, log = state_dir / "ready.json", state_dir / "server.log"
    ready.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "twin.stubs.salesforce",
        "--state-dir",
        str(state_dir),
        "--ready-file",
        str(ready),
        "--port",
        str(port),
        "--api-limit",
        str(api_limit),
    ]
    if fixtures is not None:
        cmd += ["--fixtures", str(fixtures)]
    if bootstrap:
        cmd += ["--bootstrap", bootstrap]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + timeout_s
    while not ready.is_file():
        if proc.poll() is not None:
            raise StubStartError(
                f"the Salesforce stand-in exited with code {proc.returncode}:\n{_log_tail(log)}"
            )
        if time.monotonic() > deadline:
            stop_pid(proc.pid, _marker(state_dir), grace_s=5)
            raise StubStartError(
                f"the Salesforce stand-in did not start within {timeout_s:g} s:\n{_log_tail(log)}"
            )
        time.sleep(0.05)
    endpoint = json.loads(ready.read_text())
    return SalesforceProcess(pid=proc.pid, state_dir=state_dir, log=log, **endpoint)


def health(info: SalesforceProcess) -> StubHealth:
    return StubHealth(
        name="salesforce",
        url=info.instance_url,
        pid=info.pid,
        pid_alive=is_our_process(info.pid, _marker(info.state_dir)),
        port_open=port_open(info.port),
    )


def _marker(state_dir: Path) -> str:
    # What the stand-in's command line must contain before its pid is signalled: the module and this
    # exact state folder (a state file naming some other pid, or a folder like "/", matches nothing).
    return f"-m twin.stubs.salesforce --state-dir {state_dir} "


def stop_salesforce(info: SalesforceProcess, grace_s: float = 15.0) -> bool:
    """SIGTERM (the server snapshots its org and exits), SIGKILL after `grace_s`. False if not ours."""
    return stop_pid(info.pid, _marker(info.state_dir), grace_s=grace_s)
