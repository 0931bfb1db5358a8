"""The result cache the platform puts in front of the warehouse (ElastiCache in production)."""

from twin.cache.keys import CacheScope, cache_key
from twin.cache.result_cache import CacheStats, Lookup, ResultCache, SourceUnavailable

__all__ = ["CacheScope", "CacheStats", "Lookup", "ResultCache", "SourceUnavailable", "cache_key"]
