"""Serving the Salesforce stand-in over HTTPS on 127.0.0.1.

Stack: werkzeug's threaded WSGI server with an `ssl.SSLContext`. Why werkzeug and not starlette/uvicorn:
the REST shapes are plain request/response handlers with no async work, werkzeug is already in the
dependency set (moto[server] and flask need it), its routing `Map` is the moto-style `urls` table, and
`make_server` takes an SSL context directly, in-process for tests (a thread) and as a process for
`twin stubs up`. HTTP/1.1 keep-alive is on (threaded server), so an SDK session reuses its connection.

Port 0 asks the kernel for a free port; the bound port is reported (state file, `ready` file).

Measured (2026-12-02, a 2-core machine shared with other work, load average ~13): the WSGI app alone
answers a 10-row SOQL query with a parent field in 0.7-1.0 ms; through simple-salesforce over HTTPS
from another process, p50/p99 are 17/52 ms for that query and 24/75 ms for a create (journal fsync
included). TCP_NODELAY took an in-process client's query from 29 ms to 12 ms (Nagle + delayed ACK).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from twin.streaming.port import Broker
from twin.stubs.certs import TlsFiles, ensure_tls
from twin.stubs.salesforce.auth import Credentials
from twin.stubs.salesforce.cdc import CDC_TOPIC, BrokerPublisher, ChangeEvent
from twin.stubs.salesforce.models import Org, OrgConfig

HOST = "127.0.0.1"


class _QuietHandler(WSGIRequestHandler):
    def setup(self) -> None:
        super().setup()
        # The handler writes headers and body separately; with Nagle on, the second write waits for
        # the client's delayed ACK (~40 ms a call on Linux). Measured: p50 of a query 29 ms -> see module doc.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # One log line per request would dominate the process's time under load tests.
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Endpoint(BaseModel):
    """What a client needs to reach the running stand-in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instance_url: str
    login_domain: str  # simple-salesforce's `domain=`: its login URL then lands on this server
    port: int
    username: str
    password: str
    security_token: str
    consumer_key: str
    consumer_secret: str
    ca_cert: Path
    cdc_topic: str | None


class SalesforceServer:
    """The stand-in, in-process: `start()` serves on a thread, `stop()` shuts down and snapshots state."""

    def __init__(
        self,
        state_dir: Path,
        *,
        config: OrgConfig | None = None,
        broker: Broker | None = None,
        cdc_topic: str = CDC_TOPIC,
        seed: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
        port: int = 0,
        subscribers: Iterable[Callable[[ChangeEvent], None]] = (),
    ) -> None:
        from twin.stubs.salesforce.responses import SalesforceApp

        self.state_dir = state_dir
        self.tls: TlsFiles = ensure_tls(state_dir / "tls")
        self.credentials = Credentials.load_or_create(state_dir)
        self.org = Org(state_dir, config=config)
        if seed is not None and self.org.is_empty():
            self.org.seed(*seed)
        self.cdc_topic: str | None = None
        self.org.subscribers.extend(subscribers)
        if broker is not None:
            self.org.subscribers.append(BrokerPublisher(broker, cdc_topic))
            self.cdc_topic = cdc_topic
        self._delivery: threading.Thread | None = None
        self.app = SalesforceApp(self.org, self.credentials)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls.cert, self.tls.key)
        self.httpd: BaseWSGIServer = make_server(
            HOST, port, self.app, threaded=True, ssl_context=context, request_handler=_QuietHandler
        )
        self.port = self.httpd.server_port
        self.app.base_url = f"https://{HOST}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> Endpoint:
        c = self.credentials
        return Endpoint(
            instance_url=self.app.base_url,
            login_domain=f"{HOST}:{self.port}/login",
            port=self.port,
            username=c.username,
            password=c.password,
            security_token=c.security_token,
            consumer_key=c.consumer_key,
            consumer_secret=c.consumer_secret,
            ca_cert=self.tls.ca_cert,
            cdc_topic=self.cdc_topic,
        )

    def start_delivery(self) -> None:
        # events committed before a crash or a stop are delivered first, then each new one
        self._delivery = self.org.start_delivery()

    def start(self) -> SalesforceServer:
        self.start_delivery()
        # a short poll interval: stop() returns within 50 ms instead of half a second
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="salesforce-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.start_delivery()
        self.httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._stop_delivery()
        self.org.close()

    def _stop_delivery(self) -> None:
        self.org.stop_delivery()
        if self._delivery is not None:
            self._delivery.join(timeout=15)

    def __enter__(self) -> SalesforceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """The process `twin stubs up` starts: serve until SIGTERM, then snapshot the org and exit."""
    parser = argparse.ArgumentParser(prog="python -m twin.stubs.salesforce")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--fixtures", type=Path, default=None)
    parser.add_argument("--bootstrap", default=None)
    parser.add_argument("--api-limit", type=int, default=5_000)
    args = parser.parse_args(argv)

    seed = None
    if args.fixtures is not None and (args.fixtures / "institutional_clients.parquet").is_file():
        from twin.stubs.salesforce.seed import records_from_fixtures

        seed = records_from_fixtures(args.fixtures)
    broker = None
    if args.bootstrap:
        from twin.streaming.kafka_adapter import KafkaBroker

        broker = KafkaBroker(args.bootstrap)
    server = SalesforceServer(
        args.state_dir, config=OrgConfig(api_limit=args.api_limit), broker=broker, seed=seed, port=args.port
    )

    def _stop(signum: int, frame: object) -> None:
        # shutdown() blocks until serve_forever returns, so it must run off the serving thread
        threading.Thread(target=server.httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    tmp = args.ready_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(server.endpoint.model_dump(mode="json")))
    tmp.replace(args.ready_file)
    try:
        server.serve_forever()
    finally:
        server.httpd.server_close()
        server._stop_delivery()
        server.org.close()
    return 0
