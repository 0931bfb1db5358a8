"""The governed platform service every client shares: sim personas, the API tier, load tests, chaos.

`principal` (who asks), `operations` (the catalogue of named queries), `port` (the query and harness
sides), `governed` (the in-process adapter over DuckDB and the governance layer), `cached` (the result
cache with stale fallback). Platform code knows no simulator.
"""

from twin.platform.cached import CachedQueries
from twin.platform.errors import BadParameters, Denied, Failed, PlatformError, Unavailable, UnknownOperation
from twin.platform.governed import GovernedPlatform, open_platform
from twin.platform.operations import CATALOGUE, Operation, operation
from twin.platform.port import HarnessPort, Outcome, PlatformPort, QueryPort
from twin.platform.principal import Principal

__all__ = [
    "CATALOGUE",
    "BadParameters",
    "CachedQueries",
    "Denied",
    "Failed",
    "GovernedPlatform",
    "HarnessPort",
    "Operation",
    "Outcome",
    "PlatformError",
    "PlatformPort",
    "Principal",
    "QueryPort",
    "Unavailable",
    "UnknownOperation",
    "open_platform",
    "operation",
]
