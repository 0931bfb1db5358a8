"""What a platform call can fail with, whichever adapter served it."""

from __future__ import annotations

from twin.cache.result_cache import SourceUnavailable
from twin.errors import TwinError


class PlatformError(TwinError, RuntimeError):
    """Any refusal or failure of the platform service."""


class Denied(PlatformError):
    """The governance layer refused the query for this principal."""


class Failed(PlatformError):
    """A permitted query failed while running (counted as an error, not a denial)."""


class Unavailable(Failed, SourceUnavailable):
    """The warehouse cannot be reached (locked by a writer, down): the cache may serve stale data."""


class UnknownOperation(PlatformError):
    """A name that is not in the operation catalogue."""


class BadParameters(PlatformError):
    """An operation was called with the wrong number or kind of parameters."""
