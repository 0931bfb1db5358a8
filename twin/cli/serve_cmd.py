"""`twin serve registry`: wire APIs that production clients talk to unchanged, served over the twin's state.

The registry serves the Confluent Schema Registry REST API over the same schema store `twin produce`
registers into ($TWIN_HOME/schemas), on 127.0.0.1 only, until Ctrl-C.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from twin.cli.errors import fail

console = Console(stderr=True, soft_wrap=True)

REGISTRY_PORT = 8081  # Confluent Schema Registry's default, so client configs need no change


def register(app: typer.Typer) -> None:
    serve_app = typer.Typer(
        help="Serve a production system's wire API over the twin (127.0.0.1 only).", no_args_is_help=True
    )

    @serve_app.command("registry")
    def registry(
        port: int = typer.Option(
            REGISTRY_PORT, "--port", min=0, max=65535, help="TCP port on 127.0.0.1 (0 picks a free one)."
        ),
        schemas: Path | None = typer.Option(
            None, "--schemas", help="Schema store folder (default: $TWIN_HOME/schemas, as `twin produce`)."
        ),
    ) -> None:
        """Serve the Confluent Schema Registry API over the topic contracts (BACKWARD by default)."""
        from twin.config import paths
        from twin.streaming.contracts.registry import SchemaStore
        from twin.streaming.contracts.registry_api import RegistryServer

        root = schemas or paths().home / "schemas"
        if root.exists() and not root.is_dir():
            fail(f"--schemas {root} is a file; give the schema store's folder")
        try:
            store = SchemaStore(root)
        except (ValueError, OSError) as e:  # a version or _registry.json file that is not valid JSON
            fail(f"cannot read the schema store in {root}: {e}")
        try:
            server = RegistryServer(store, port)
        except OSError as e:
            fail(f"cannot listen on 127.0.0.1:{port}: {e.strerror or e}; pick another --port")
        summary = {"url": server.url, "schemas": str(root), "subjects": len(store.subjects())}
        console.print(f"Schema Registry API on {server.url} · {json.dumps(summary)} · Ctrl-C stops")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.httpd.server_close()

    app.add_typer(serve_app, name="serve")
