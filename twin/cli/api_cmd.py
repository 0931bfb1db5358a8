"""`twin api serve|rotate-keys` and `twin token`: the SaaS API tier and tokens from its local issuer."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from twin.cli.errors import fail

ISSUER_ENV = "TWIN_ISSUER"
DEFAULT_PORT = 8000
KEY_FILE_HELP = "The local issuer's key file [default: TWIN_HOME/issuer/keys.json]."


def _issuer(issuer: str | None, port: int = DEFAULT_PORT) -> str:
    return issuer or os.environ.get(ISSUER_ENV) or f"http://127.0.0.1:{port}"


def _key_file(key_file: Path | None) -> Path:
    from twin.config import paths

    return key_file or paths().home / "issuer" / "keys.json"


def _check_file(path: Path | None, option: str) -> None:
    if path is not None and not path.is_file():
        fail(f"{option} {path} is not a file")


def _check_port(host: str, port: int) -> None:
    """A taken port or an unknown address is one clear line, not uvicorn's log and exit 1."""
    import socket

    try:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port or --host")


def register(app: typer.Typer) -> None:
    api = typer.Typer(help="The SaaS API tier: serve it, rotate its issuer's keys.", no_args_is_help=True)
    app.add_typer(api, name="api")

    @api.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
        port: int = typer.Option(DEFAULT_PORT, min=1, max=65535, help="Port to listen on."),
        workers: int = typer.Option(
            1, min=1, max=64, help="Worker processes (share limits via --redis-url)."
        ),
        issuer: str | None = typer.Option(
            None, help=f"Issuer URL tokens must carry [default: ${ISSUER_ENV} or http://127.0.0.1:PORT]."
        ),
        audience: str = typer.Option("twin-api", help="Audience tokens must carry."),
        discovery_url: str | None = typer.Option(
            None, help="Trust an external OIDC issuer (e.g. Cognito) via this discovery document instead."
        ),
        redis_url: str | None = typer.Option(None, help="Redis for rate-limit buckets shared by workers."),
        clients: Path | None = typer.Option(None, help="Machine clients of the local issuer (YAML)."),
        rate_limits: Path | None = typer.Option(None, help="Quota and burst per client (YAML)."),
        key_file: Path | None = typer.Option(None, help=KEY_FILE_HELP),
    ) -> None:
        """Run the API under uvicorn, with the local issuer unless --discovery-url names another."""
        import json

        import uvicorn

        from twin.api.app import SETTINGS_ENV, ApiSettings
        from twin.api.issuer import ClientsFile, IssuerError, KeyStore
        from twin.api.ratelimit import RateLimitError, RateLimits

        _check_file(clients, "--clients")
        _check_file(rate_limits, "--rate-limits")
        if workers > 1 and not redis_url:
            fail("--workers > 1 needs --redis-url: without it every worker would grant the full quota")
        # load once here so a bad file is one clear error, not N workers failing to start
        try:
            if discovery_url is None:  # made once, before the workers start and would race to make it
                KeyStore(_key_file(key_file)).signing_key()
            if clients:
                ClientsFile.load(clients)
            if rate_limits:
                RateLimits.load(rate_limits)
        except (IssuerError, RateLimitError) as exc:
            fail(str(exc))
        settings = ApiSettings(
            issuer=_issuer(issuer, port), audience=audience, local_issuer=discovery_url is None,
            discovery_url=discovery_url, key_file=_key_file(key_file).resolve(),
            clients_file=clients.resolve() if clients else None,
            rate_limits_file=rate_limits.resolve() if rate_limits else None, redis_url=redis_url,
        )  # fmt: skip
        _check_port(host, port)
        os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump(mode="json"))
        uvicorn.run(
            "twin.api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
            log_level="warning", proxy_headers=False,
        )  # fmt: skip

    @api.command("rotate-keys")
    def rotate_keys(
        key_file: Path | None = typer.Option(None, help=KEY_FILE_HELP),
        keep: int = typer.Option(2, min=1, max=10, help="Keys kept published (the new one included)."),
    ) -> None:
        """Sign new tokens with a fresh key; older tokens verify until they expire (within --keep)."""
        from twin.api.issuer import IssuerError, KeyStore

        path = _key_file(key_file)
        try:
            key = KeyStore(path, keep=keep).rotate()
        except IssuerError as exc:
            fail(str(exc))
        typer.echo(f"new signing key {key.kid} in {path}; the previous {keep - 1} stay published")

    @app.command("token")
    def token(
        role: str = typer.Option(..., help="Role the token carries (e.g. FINANCIAL_ADVISOR)."),
        client: str = typer.Option(..., help="Client id the token carries (its rate-limit bucket)."),
        department: str | None = typer.Option(None, help="Department the token carries."),
        entitlement: list[str] = typer.Option([], help="Fund or product the client is entitled to (repeat)."),
        ttl: int = typer.Option(3600, min=1, max=86400, help="Lifetime in seconds."),
        issuer: str | None = typer.Option(
            None, help=f"Issuer URL [default: ${ISSUER_ENV} or http://127.0.0.1:{DEFAULT_PORT}]."
        ),
        audience: str = typer.Option("twin-api", help="Audience the token carries."),
        key_file: Path | None = typer.Option(None, help=KEY_FILE_HELP),
    ) -> None:
        """Print an access token signed by the local issuer, for people and tests."""
        from twin.api.issuer import IssuerConfig, IssuerError, KeyStore, LocalIssuer

        issuer_ = LocalIssuer(
            IssuerConfig(issuer=_issuer(issuer), audience=audience), KeyStore(_key_file(key_file))
        )
        try:
            typer.echo(issuer_.mint(role=role, client_id=client, department=department,
                                    entitlements=entitlement, ttl_s=ttl))  # fmt: skip
        except IssuerError as exc:
            fail(str(exc))
