"""The simulator's names for the platform service (`twin.platform`), kept for existing imports.

A persona's `Caller` is the service's `Principal`; the port, its errors and the governed adapter are
the service's own. New code imports from `twin.platform`.
"""

from twin.platform.errors import Denied, Failed
from twin.platform.governed import LEAN_KEEP, GovernedPlatform, open_platform, single_table_select
from twin.platform.governed import sample_keys as _sample_keys
from twin.platform.port import Outcome, PlatformPort
from twin.platform.principal import Principal

Caller = Principal
GovernedDuckDB = GovernedPlatform

__all__ = [
    "LEAN_KEEP",
    "Caller",
    "Denied",
    "Failed",
    "GovernedDuckDB",
    "Outcome",
    "PlatformPort",
    "Principal",
    "_sample_keys",
    "open_platform",
    "single_table_select",
]
