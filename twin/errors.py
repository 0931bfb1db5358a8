"""The root of every error twin raises on purpose.

Each layer defines its own errors (GovernanceError, WarehouseError, ScenarioError, BrokerError, ...) and
every one of them subclasses `TwinError`, so a caller can tell "twin refused or could not do this, and
the message says why" from a bug with one `except`. The CLI's single error path maps `TwinError` to a
one-line message and exit code 2. Errors that were a `ValueError`/`RuntimeError` before keep that base
too, so existing handlers (and pydantic validators, which turn a `ValueError` into a located problem)
still catch them.

This module depends on nothing, so any layer may import it.
"""

from __future__ import annotations


class TwinError(Exception):
    """An error a user can act on; its message names what was refused and what to do next."""
