"""Placeholder: this area's commands are being built."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `twin` app."""
