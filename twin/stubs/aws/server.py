"""The local AWS endpoint: moto's WSGI app and twin's Data Exchange behind the router, on 127.0.0.1.

Two ways to run it:
- in this process (`AwsEndpoint(config).start()`, what tests use): a threaded werkzeug server;
- as its own process (`start_aws_endpoint(config)` / `stop_aws_endpoint(state_dir)`, what `twin stubs
  up|down` calls): `python -m twin.stubs.aws.server CONFIG` writes `state.json` when it is ready (the URL,
  region and every account's keys, mode 0600) and removes it on SIGTERM.

Step Functions runs real ASL only when moto's stepfunctions config enables it and MOTO_PORT names this
endpoint's port in the serving process: moto's interpreter then calls services with boto3 at
`localhost:$MOTO_PORT`, i.e. through this router, so `aws-sdk:dataexchange:*` tasks reach twin's Data
Exchange. The interpreter signs with the fixed key `ak`/`sk`; the endpoint knows that key as the
provider account's state-machine role (`stepfunctions-interpreter` in the trail).

Measured on a shared 2-core machine (one-off runs, noisy): start with imports 4-6 s; a Data Exchange
GetDataSet through the router 2-4 ms p50; SQS GetQueueAttributes 4-18 ms p50 through the router and
4-9 ms straight to a ThreadedMotoServer, i.e. the SigV4 check and the audit append are lost in moto's
own variance. A one-state `aws-sdk:dataexchange:createDataGrant` execution, start to SUCCEEDED as seen
by polling DescribeExecution: 35-153 ms over 12 runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from twin.governance.audit import AuditLog
from twin.stubs.adx.models import DataExchangeBackend
from twin.stubs.aws.router import AwsRouter
from twin.stubs.aws.sigv4 import AwsCredential, CredentialStore

__all__ = [
    "INTERPRETER_KEY",
    "PROVIDER_ACCOUNT",
    "AwsEndpoint",
    "AwsEndpointConfig",
    "AwsEndpointState",
    "MotoObjectStore",
    "SubscriberAccount",
    "default_config",
    "default_state_dir",
    "endpoint_status",
    "start_aws_endpoint",
    "stop_aws_endpoint",
    "subscribers_from_fixtures",
]

# moto keeps every request in its default account; the provider is that account, so the S3 buckets,
# queues and state machines it creates are the provider's.
PROVIDER_ACCOUNT = "123456789012"
INTERPRETER_KEY = ("ak", "sk")
STATE_FILE = "state.json"
_MARKER = "twin.stubs.aws.server"


class SubscriberAccount(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    account_id: str = Field(pattern=r"^\d{12}$")
    name: str


class AwsEndpointConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)  # 0: a free port
    region: str = "us-east-1"
    subscribers: list[SubscriberAccount] = Field(default_factory=list)
    # The platform's business day for the publish gates (NAV freshness); None: the wall clock's.
    business_date: date | None = None
    execute_state_machines: bool = True


class AwsEndpointState(BaseModel):
    """What a client needs, and what `stop` needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    host: str
    port: int
    region: str
    pid: int
    state_dir: Path
    audit_log: Path
    started_at: datetime
    provider_account: str
    credentials: list[AwsCredential]
    business_date: date | None = None

    def business_now(self) -> datetime:
        """The gates' "now": the business day at the wall clock's time of day (the service's own clock)."""
        now = datetime.now()
        return datetime.combine(self.business_date, now.time()) if self.business_date else now

    def credential_for(self, account_id: str) -> AwsCredential:
        for c in self.credentials:
            if c.account_id == account_id and c.access_key_id != INTERPRETER_KEY[0]:
                return c
        raise KeyError(account_id)


class MotoObjectStore:
    """Data Exchange jobs read and write S3 objects in moto's S3 backend of the same process."""

    def __init__(self, account: str = PROVIDER_ACCOUNT) -> None:
        self.account = account

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[self.account]["aws"]

    def get(self, bucket: str, key: str) -> bytes:
        from moto.s3.exceptions import MissingBucket, MissingKey

        try:
            obj = self._backend().get_object(bucket, key)
        except (MissingBucket, MissingKey):
            raise KeyError(f"{bucket}/{key}") from None
        if obj is None:
            raise KeyError(f"{bucket}/{key}")
        return bytes(obj.value)

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._backend().put_object(bucket, key, data)


def _credentials(config: AwsEndpointConfig) -> list[AwsCredential]:
    """Fresh keys per start (the state file hands them to clients); the interpreter's key is fixed by moto."""

    def key() -> str:
        return "AKIA" + secrets.token_hex(8).upper()

    out = [
        AwsCredential(
            access_key_id=key(),
            secret_access_key=secrets.token_urlsafe(30),
            account_id=PROVIDER_ACCOUNT,
            name="provider",
        ),
        AwsCredential(
            access_key_id=INTERPRETER_KEY[0],
            secret_access_key=INTERPRETER_KEY[1],
            account_id=PROVIDER_ACCOUNT,
            name="stepfunctions-interpreter",
        ),
    ]
    for s in config.subscribers:
        if s.account_id == PROVIDER_ACCOUNT:
            raise ValueError(f"subscriber {s.name} has the provider's account id {PROVIDER_ACCOUNT}")
        out.append(
            AwsCredential(
                access_key_id=key(),
                secret_access_key=secrets.token_urlsafe(30),
                account_id=s.account_id,
                name=f"subscriber:{s.name}",
            )
        )
    return out


def _business_clock(day: date | None) -> Callable[[], datetime] | None:
    if day is None:
        return None
    return lambda: datetime.combine(day, datetime.now().time())


def _quiet_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietHandler(MotoRequestHandler):
        """moto's request handler without a stderr line per request (the audit trail records calls)."""

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return QuietHandler


class AwsEndpoint:
    """The endpoint in this process."""

    def __init__(
        self,
        config: AwsEndpointConfig,
        *,
        credentials: list[AwsCredential] | None = None,
        business_clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.credentials = credentials or _credentials(config)
        state_dir = Path(config.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.audit_path = state_dir / "cloudtrail.jsonl"
        self.audit = AuditLog(self.audit_path, key_dir=state_dir / "keys")
        self.adx = DataExchangeBackend(
            state_dir / "adx",
            MotoObjectStore(),
            region=config.region,
            business_clock=business_clock or _business_clock(config.business_date),
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.router: AwsRouter | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def start(self) -> AwsEndpoint:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        moto_app = DomainDispatcherApplication(create_backend_app)
        router = self.router = AwsRouter(
            moto_app,
            self.adx,
            CredentialStore(self.credentials),
            self.audit,
            admin_accounts=frozenset({PROVIDER_ACCOUNT}),
        )
        self._server = make_server(
            self.config.host, self.config.port, router, threaded=True, request_handler=_quiet_handler()
        )
        # moto's ASL interpreter calls `localhost:$MOTO_PORT`: this endpoint, so its calls are routed too.
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-endpoint", daemon=True)
        self._thread.start()
        if self.config.execute_state_machines:
            self.moto_api("config", {"stepfunctions": {"execute_state_machine": True}})
        return self

    def moto_api(self, action: str, payload: dict[str, Any] | None = None) -> bytes:
        """POST to moto's control plane (`config`, `reset`, …), signed with the provider's key."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        cred = next(c for c in self.credentials if c.name == "provider")
        req = AWSRequest(
            method="POST",
            url=f"{self.url}/moto-api/{action}",
            data=json.dumps(payload or {}).encode(),
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(
            Credentials(cred.access_key_id, cred.secret_access_key), "moto-api", self.config.region
        ).add_auth(req)
        http = urllib.request.Request(
            req.url, method="POST", data=req.body, headers=dict(req.headers.items())
        )
        with urllib.request.urlopen(http, timeout=10) as r:
            return bytes(r.read())

    def state(self) -> AwsEndpointState:
        return AwsEndpointState(
            url=self.url,
            host=self.config.host,
            port=self.port,
            region=self.config.region,
            pid=os.getpid(),
            state_dir=Path(self.config.state_dir),
            audit_log=self.audit_path,
            started_at=datetime.now(UTC),
            provider_account=PROVIDER_ACCOUNT,
            credentials=self.credentials,
            business_date=self.config.business_date,
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.audit.close()

    def __enter__(self) -> AwsEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def default_state_dir() -> Path:
    """`$TWIN_HOME/aws`: where `twin stubs up` keeps the endpoint's state, trail and Data Exchange files."""
    from twin.config import paths

    return paths().home / "aws"


def endpoint_status(state_dir: Path) -> AwsEndpointState | None:
    """The running endpoint's state, or None (no state file, or its process is gone)."""
    from twin.streaming.broker.processes import is_our_process

    path = Path(state_dir) / STATE_FILE
    if not path.is_file():
        return None
    state = AwsEndpointState.model_validate_json(path.read_text())
    return state if is_our_process(state.pid, _MARKER) else None


def start_aws_endpoint(config: AwsEndpointConfig, *, timeout_s: float = 60.0) -> AwsEndpointState:
    """Start the endpoint as its own process; returns once it serves (its state file is written)."""
    state_dir = Path(config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    running = endpoint_status(state_dir)
    if running is not None:
        return running
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    cfg = state_dir / "config.json"
    cfg.write_text(config.model_dump_json(indent=2))
    log = open(state_dir / "server.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [sys.executable, "-m", _MARKER, str(cfg)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = endpoint_status(state_dir)
        if state is not None:
            return state
        if proc.poll() is not None:
            tail = (state_dir / "server.log").read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"the AWS endpoint exited with {proc.returncode}: {' | '.join(tail)}")
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    raise RuntimeError(
        f"the AWS endpoint did not start within {timeout_s:.0f} s (see {state_dir / 'server.log'})"
    )


def stop_aws_endpoint(state_dir: Path, grace_s: float = 10.0) -> bool:
    """Stop the endpoint started from `state_dir`; False when none was running."""
    from twin.streaming.broker.processes import stop_pid

    state = endpoint_status(state_dir)
    if state is None:
        (Path(state_dir) / STATE_FILE).unlink(missing_ok=True)  # a stale file of a process that died
        return False
    stopped = stop_pid(state.pid, _MARKER, grace_s)
    (Path(state_dir) / STATE_FILE).unlink(missing_ok=True)
    return stopped


def default_config(
    state_dir: Path | None = None, *, subscribers: int = 3, port: int = 0
) -> AwsEndpointConfig:
    """The endpoint `twin stubs up` starts: under $TWIN_HOME/aws, subscriber accounts from the fixtures'
    first institutional clients (none when there are no fixtures yet), and the fixtures' last business
    day as the gates' business day, since the data ends there and NAV freshness is judged against it."""
    from twin.config import paths
    from twin.fixtures.calendar import WINDOW_END
    from twin.fixtures.errors import FixtureError

    try:
        accounts = subscribers_from_fixtures(paths().fixtures, subscribers)
    except FixtureError:
        accounts = []
    return AwsEndpointConfig(
        state_dir=state_dir or default_state_dir(), port=port, subscribers=accounts, business_date=WINDOW_END
    )


def subscribers_from_fixtures(fixtures_dir: Path, count: int = 3) -> list[SubscriberAccount]:
    """The first `count` institutional clients of the fixtures, as subscriber accounts."""
    from twin.fixtures.store import read_entity

    table = read_entity(Path(fixtures_dir), "institutional_clients").slice(0, count).to_pylist()
    return [SubscriberAccount(account_id=r["aws_account_id"], name=r["client_id"]) for r in table]


def _serve(config_path: Path) -> None:
    config = AwsEndpointConfig.model_validate_json(config_path.read_text())
    endpoint = AwsEndpoint(config).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _write_private(Path(config.state_dir) / STATE_FILE, endpoint.state().model_dump_json(indent=2))
    try:
        while not stop.wait(0.5):
            pass
    finally:
        endpoint.stop()
        (Path(config.state_dir) / STATE_FILE).unlink(missing_ok=True)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
