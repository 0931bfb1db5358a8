"""Per-client token buckets (API Gateway's usage plans): a quota per period and a burst.

A bucket holds at most `burst` tokens and refills at `quota / period_s` tokens a second; a request
takes one. With one worker the buckets live in process; with several they live in Redis and a Lua
script does read-refill-take-write in one atomic step, so N workers share one bucket per client
instead of granting N times the quota.

The decision carries what the response headers need: `RateLimit-Limit` (the burst: what a client can
spend at once), `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the bucket is full again) and,
when refused, `Retry-After` (seconds until the next token).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twin.api.identity import NAME_RE
from twin.errors import TwinError


class RateLimitError(TwinError, ValueError):
    """A rate-limit file twin cannot use; the message names the file, the field and the problem."""


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    quota: int = Field(gt=0, description="requests granted per period, sustained")
    period_s: float = Field(default=60.0, gt=0)
    burst: int = Field(gt=0, description="the bucket's size: requests a client may send at once")

    @property
    def rate(self) -> float:
        return self.quota / self.period_s


class RateLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Plan = Plan(quota=600, period_s=60, burst=50)
    clients: dict[str, Plan] = Field(default_factory=dict)

    def plan(self, client_id: str) -> Plan:
        return self.clients.get(client_id, self.default)

    @classmethod
    def load(cls, path: Path) -> RateLimits:
        try:
            raw = yaml.safe_load(path.read_text()) or {}
            limits = cls.model_validate(raw)
        except yaml.YAMLError as exc:
            raise RateLimitError(f"{path}: not valid YAML ({exc})") from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise RateLimitError(f"{path}: {where}: {first['msg']}") from exc
        for client in limits.clients:
            if not NAME_RE.fullmatch(client):
                raise RateLimitError(f"{path}: clients.{client}: not a valid client id")
        return limits


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float  # until the bucket is full again
    retry_after_s: float  # until the next token (0 when allowed)

    def headers(self) -> dict[str, str]:
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_s)),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.retry_after_s)))
        return out


def _decide(plan: Plan, tokens: float, allowed: bool) -> Decision:
    rate = plan.rate
    return Decision(
        allowed=allowed,
        limit=plan.burst,
        remaining=max(0, math.floor(tokens)),
        reset_s=max(0.0, (plan.burst - tokens) / rate),
        retry_after_s=0.0 if allowed else max(0.0, (1.0 - tokens) / rate),
    )


class Limiter(Protocol):
    def acquire(self, client_id: str) -> Decision: ...


class LocalLimiter:
    """Buckets in this process: right for one worker; the clock is injected for tests and SimPy."""

    def __init__(self, limits: RateLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, client_id: str) -> Decision:
        plan = self.limits.plan(client_id)
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(client_id, (float(plan.burst), now))
            tokens = min(float(plan.burst), tokens + max(0.0, now - at) * plan.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[client_id] = (tokens, now)
        return _decide(plan, tokens, allowed)


# KEYS[1] the bucket; ARGV: burst, rate (tokens/s), now (s), ttl (s). Returns {allowed, tokens*1000}.
# Time comes from the caller's clock (wall time, shared by every worker on the machine), which keeps
# the script deterministic and lets tests drive it.
_BUCKET_LUA = """
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
if now > at then at = now end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {allowed, math.floor(tokens * 1000)}
"""


class RedisLimiter:
    """Buckets in Redis, shared by every worker; one atomic script call per request."""

    def __init__(
        self,
        limits: RateLimits,
        client: object,  # redis.Redis
        *,
        prefix: str = "twin:ratelimit:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self.redis = client
        self.prefix = prefix
        self.clock = clock
        self._script = client.register_script(_BUCKET_LUA)  # type: ignore[attr-defined]

    def acquire(self, client_id: str) -> Decision:
        plan = self.limits.plan(client_id)
        # an idle bucket refills completely after burst/rate seconds: no need to keep it longer
        ttl = max(1, math.ceil(plan.burst / plan.rate) + 1)
        allowed, milli = self._script(
            keys=[self.prefix + client_id], args=[plan.burst, repr(plan.rate), repr(self.clock()), ttl]
        )
        return _decide(plan, int(milli) / 1000.0, bool(allowed))
