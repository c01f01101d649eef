"""Cluster-wide rpm/tpm limits: token buckets in Redis, spent through local leases.

:class:`SharedRateLimiter` is the :class:`~agentrt.llm._ratelimit.RateLimiter` a provider
lane gets when ``PoolConfig.shared_limits`` is set and the provider has an rpm or tpm
limit. Its state lives in Redis under ``{key_prefix}limits:{cluster}:{provider}:``:

- ``rpm`` / ``tpm``: a bucket each (a hash: ``level``, ``stamp``) refilled at the limit's
  rate by the Redis server's ``TIME`` and holding ``burst_s`` seconds of it;
- ``pauses``: a hash model -> the Unix time in ms a 429's pause ends.

**Acquire.** A node spends a *lease* held in process: while it holds a request (and the
estimated tokens) nothing goes to Redis. When it runs short, ONE Lua script
(:data:`ACQUIRE_SCRIPT`) refills both buckets, takes what is missing plus up to a lease
(``lease_s`` of the limit split by ``nodes``, at least one unit) only when the whole need
fits, and answers how long to wait otherwise; the same call publishes this node's new
429 pauses and returns every live pause. One renewal runs at a time per node; callers wait
for it within their deadline (else :class:`DeadlineExceeded`). A lease is never given
back: a node that stops loses it (the provider sees less, never more).

**Overshoot bound.** Every unit sent was taken from the Redis bucket, so over any window
of ``W`` seconds the provider receives at most what the bucket hands out in it (its
``burst_s`` of stored budget plus ``W`` of refill) plus the leases taken before the window
and spent in it (at most ``nodes`` leases, ``lease_s`` of the limit in all, plus one unit
each for rounding): ``rate * (W + burst_s + lease_s) + nodes``. Reconciliation after a
call moves a node's token lease into debt when the provider counted more than estimated;
that debt is paid before the node takes more.

**429s.** A 429 (or 503 with Retry-After) seen by any node pauses that (provider, model)
on every node: the node that saw it publishes the pause before it waits (or at its next
acquire); the others learn it at their next lease renewal, so each sends at most one
lease's requests before pausing (latency: the time a node takes to spend a lease).

**Redis down** (a call fails, or takes longer than ``op_timeout_s``): the node falls back
to its share, ``rpm / nodes`` and ``tpm / nodes`` (buckets holding ``burst_s`` of it, in
process), logs one warning and emits :data:`SHARED_LIMIT_FALLBACK_EVENT` once per outage;
it tries Redis again at most every ``retry_s`` and, when Redis answers, logs and emits
:data:`SHARED_LIMIT_RESTORED_EVENT` and uses the shared buckets again.

**Damaged data** (a key of another Redis type, fields that are not finite numbers):
:class:`LimitStateDamaged` naming the key, raised to the caller; the key is left as it is.

Example::

    limits = SharedLimits(url="redis://10.0.0.9:6379/0", cluster="prod", nodes=3)
    pool = LLMPool(PoolConfig(providers=(openai,), shared_limits=limits))
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

from agentrt.llm._config import SharedLimits
from agentrt.llm._errors import DeadlineExceeded, LimitStateDamaged
from agentrt.llm._ratelimit import RateLimiter

if TYPE_CHECKING:
    from agentrt.telemetry import Events

__all__ = [
    "ACQUIRE_SCRIPT",
    "SHARED_LIMIT_FALLBACK_EVENT",
    "SHARED_LIMIT_RESTORED_EVENT",
    "SharedRateLimiter",
    "limit_keys",
]

#: Emitted once per Redis outage (measurement ``count``; metadata ``provider``, ``error``).
SHARED_LIMIT_FALLBACK_EVENT = ("agentrt", "llm", "shared_limit_fallback")
#: Emitted when Redis answers again after an outage (measurement ``outage_s``).
SHARED_LIMIT_RESTORED_EVENT = ("agentrt", "llm", "shared_limit_restored")

_log = logging.getLogger("agentrt.llm.limits")
_DAMAGED = "AGENTRT_DAMAGED"
_MAX_PAUSES = 1024

#: KEYS: rpm bucket, tpm bucket, pauses hash. ARGV: for rpm then tpm, ``rate`` (units per
#: second; 0: no such bucket), ``capacity``, ``need``, ``want``; then pairs (model, pause
#: ms) to publish. Takes ``max(need, min(want, floor(level)))`` from every bucket when
#: each holds ``min(need, capacity)``, nothing otherwise. Returns the granted requests
#: and tokens, the seconds to wait (0 when granted), then pairs (model, ms left) of the
#: live pauses.
ACQUIRE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function kind(key)
  local k = redis.call('TYPE', key)
  if type(k) == 'table' then k = k['ok'] end
  return k
end
local function bad(key, what)
  return redis.error_reply('AGENTRT_DAMAGED ' .. key .. ' ' .. what)
end
local function finite(x)
  return x ~= nil and x == x and x ~= math.huge and x ~= -math.huge
end
local levels, wait = {}, 0
for i = 1, 2 do
  local rate = tonumber(ARGV[4 * i - 3])
  if rate > 0 then
    local cap, need = tonumber(ARGV[4 * i - 2]), tonumber(ARGV[4 * i - 1])
    local k, level = kind(KEYS[i]), cap
    if k == 'hash' then
      local v = redis.call('HMGET', KEYS[i], 'level', 'stamp')
      local old, stamp = tonumber(v[1]), tonumber(v[2])
      if not finite(old) or not finite(stamp) then
        return bad(KEYS[i], 'level/stamp missing or not finite numbers')
      end
      level = math.min(cap, old + math.max(0, now - stamp) * rate)
    elseif k ~= 'none' then
      return bad(KEYS[i], 'is a ' .. k .. ', not a hash')
    end
    levels[i] = level
    local fit = math.min(need, cap)
    if level < fit then wait = math.max(wait, (fit - level) / rate) end
  end
end
local pk = KEYS[3]
local pkind = kind(pk)
if pkind ~= 'none' and pkind ~= 'hash' then return bad(pk, 'is a ' .. pkind .. ', not a hash') end
local grants = {0, 0}
for i = 1, 2 do
  local rate = tonumber(ARGV[4 * i - 3])
  if rate > 0 then
    local need, want = tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
    local cap = tonumber(ARGV[4 * i - 2])
    local level = levels[i]
    if wait == 0 then
      grants[i] = math.max(need, math.min(want, math.floor(level)))
      level = level - grants[i]
    end
    redis.call('HSET', KEYS[i], 'level', tostring(level), 'stamp', tostring(now))
    redis.call('PEXPIRE', KEYS[i], math.ceil((cap - math.min(level, 0)) / rate * 1000) + 1000)
  end
end
local nowms = now * 1000
for j = 9, #ARGV, 2 do
  local ms = tonumber(ARGV[j + 1])
  local cur = tonumber(redis.call('HGET', pk, ARGV[j]) or '0') or 0
  if nowms + ms > cur then redis.call('HSET', pk, ARGV[j], tostring(nowms + ms)) end
  if redis.call('PTTL', pk) < ms then redis.call('PEXPIRE', pk, math.ceil(ms)) end
end
local out = {tostring(grants[1]), tostring(grants[2]), tostring(wait)}
local all = redis.call('HGETALL', pk)
for j = 1, #all, 2 do
  local u = tonumber(all[j + 1])
  if not finite(u) then return bad(pk, 'pause of ' .. all[j] .. ' is not a number') end
  if u > nowms then
    out[#out + 1] = all[j]
    out[#out + 1] = tostring(u - nowms)
  else
    redis.call('HDEL', pk, all[j])
  end
end
return out
"""


def limit_keys(limits: SharedLimits, provider: str) -> tuple[str, str, str]:
    """The Redis keys of ``provider``'s rpm bucket, tpm bucket and pauses."""
    root = f"{limits.key_prefix}limits:{limits.cluster}:{provider}:"
    return root + "rpm", root + "tpm", root + "pauses"


class _Shared:
    """One shared bucket's parameters: rate per second, capacity, lease size."""

    __slots__ = ("capacity", "lease", "rate")

    def __init__(self, per_minute: int, limits: SharedLimits) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * limits.burst_s)
        self.lease = max(1, math.floor(self.rate * limits.lease_s / limits.nodes))

    def args(self, held: float, need: float) -> list[float]:
        """ARGV for a renewal while ``held`` units are leased and ``need`` are wanted."""
        if not self.rate:
            return [0, 0, 0, 0]
        missing = max(0, math.ceil(need - held))
        want = max(missing, self.lease) if missing else 0
        return [self.rate, self.capacity, missing, want]


class SharedRateLimiter(RateLimiter):
    """rpm/tpm of provider ``name`` shared through Redis (see the module doc).

    ``rpm``/``tpm``: the cluster-wide limits (0: none); ``limits``: where and how;
    ``events``: where the fallback/restored events go (None: logged only);
    ``client``: a ``redis.asyncio.Redis`` to use (default: one made from ``limits.url``
    on first use, closed by :meth:`aclose`).
    """

    def __init__(
        self,
        name: str,
        *,
        rpm: int = 0,
        tpm: int = 0,
        limits: SharedLimits,
        events: Events | None = None,
        client: Any = None,
    ) -> None:
        share_rpm = math.ceil(rpm / limits.nodes) if rpm else 0
        share_tpm = math.ceil(tpm / limits.nodes) if tpm else 0
        super().__init__(name, rpm=share_rpm, tpm=share_tpm)
        for bucket in (self.requests, self.tokens):  # the fallback holds burst_s too
            if bucket is not None:
                bucket.capacity = max(1.0, bucket.rate * limits.burst_s)
                bucket.give(0)
        self.limits = limits
        self.keys = limit_keys(limits, name)
        self._req = _Shared(rpm, limits)
        self._tok = _Shared(tpm, limits)
        self._held = [0.0, 0.0]  # leased requests, tokens (tokens may be in debt)
        self._publish: dict[str, float] = {}  # model -> pause seconds not yet published
        self._lock = asyncio.Lock()
        self._events = events
        self._client = client
        self._own_client = client is None
        self._script: Any = None
        self._down_since: float | None = None
        self._retry_at = 0.0
        self.renewals = 0
        self.outages = 0
        self.fallback_acquires = 0

    # -- the hot path ----------------------------------------------------------------------

    def _leased(self, tokens: int) -> bool:
        req_ok = not self._req.rate or self._held[0] >= 1
        return req_ok and (not self._tok.rate or self._held[1] >= tokens)

    def _spend(self, tokens: int) -> None:
        if self._req.rate:
            self._held[0] -= 1
        if self._tok.rate:
            self._held[1] -= tokens

    async def acquire(self, tokens: int, deadline: float | None) -> float:
        """Take one request of ``tokens`` from the lease, renewing it from Redis (one
        script call) when short; waits as the script answers, within ``deadline``.
        Answers the seconds waited for the limit (0.0: none; the lock's wait not counted)."""
        if self._down_since is None and not self._publish and self._leased(tokens):
            self._spend(tokens)
            return 0.0
        try:
            async with asyncio.timeout_at(deadline):
                await self._lock.acquire()
        except TimeoutError:
            raise DeadlineExceeded(self.name, "waiting for the shared rate limit") from None
        try:
            return await self._acquire_locked(tokens, deadline)
        finally:
            self._lock.release()

    async def _acquire_locked(self, tokens: int, deadline: float | None) -> float:
        loop = asyncio.get_running_loop()
        waited = 0.0
        while True:
            if self._down_since is None and not self._publish and self._leased(tokens):
                self._spend(tokens)
                return waited
            if self._down_since is not None and loop.time() < self._retry_at:
                self.fallback_acquires += 1
                return waited + await super().acquire(tokens, deadline)
            wait = await self._renew(tokens)
            if wait is None or wait <= 0:
                continue
            if deadline is not None and loop.time() + wait > deadline:
                raise DeadlineExceeded(self.name, "waiting for the shared rate limit")
            self.waits += 1
            self.wait_s += wait
            waited += wait
            await asyncio.sleep(wait)

    # -- Redis -----------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._client is None:
            import redis.asyncio as aioredis  # only a pool with shared limits loads redis

            timeout = self.limits.op_timeout_s
            self._client = aioredis.Redis.from_url(
                self.limits.url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
        if self._script is None:
            self._script = self._client.register_script(ACQUIRE_SCRIPT)
        return self._script

    async def _renew(self, tokens: int) -> float | None:
        """One script call: returns the seconds to wait (0: leased), None on an outage."""
        from redis.exceptions import RedisError, ResponseError

        publish = dict(self._publish)
        argv: list[Any] = [
            *self._req.args(self._held[0], 1),
            *self._tok.args(self._held[1], tokens),
        ]
        for model, seconds in publish.items():
            argv += [model, round(seconds * 1000, 3)]
        loop = asyncio.get_running_loop()
        try:
            script = self._connect()
            async with asyncio.timeout(self.limits.op_timeout_s):
                reply = await script(keys=list(self.keys), args=argv)
        except ResponseError as exc:
            for key in self.keys:
                head = f"{_DAMAGED} {key} "
                if str(exc).startswith(head):
                    raise LimitStateDamaged(key, str(exc).removeprefix(head)) from None
            self._outage(exc, loop.time())
            return None
        except (RedisError, OSError, TimeoutError) as exc:
            self._outage(exc, loop.time())
            return None
        self._restored(loop.time())
        self.renewals += 1
        for model in publish:
            if self._publish.get(model) == publish[model]:
                del self._publish[model]
        return self._apply(reply, loop.time())

    def _apply(self, reply: list[Any], now: float) -> float:
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in reply]
        self._held[0] += float(values[0])
        self._held[1] += float(values[1])
        for i in range(3, min(len(values), 3 + 2 * _MAX_PAUSES), 2):
            RateLimiter.pause(self, values[i], float(values[i + 1]) / 1000, now)
        return float(values[2])

    def _outage(self, exc: BaseException, now: float) -> None:
        self._retry_at = now + self.limits.retry_s
        if self._down_since is not None:
            return
        self._down_since = now
        self.outages += 1
        error = f"{type(exc).__name__}: {exc}"
        _log.warning(
            "provider %r: shared rate limits unreachable (%s); limiting to this node's share "
            "(1/%d) until Redis answers",
            self.name,
            error,
            self.limits.nodes,
        )
        if self._events is not None:
            meta = {"provider": self.name, "error": error}
            self._events.emit(SHARED_LIMIT_FALLBACK_EVENT, {"count": 1}, meta)

    def _restored(self, now: float) -> None:
        if self._down_since is None:
            return
        outage = now - self._down_since
        self._down_since = None
        _log.warning("provider %r: shared rate limits reachable again", self.name)
        if self._events is not None:
            meta = {"provider": self.name}
            self._events.emit(SHARED_LIMIT_RESTORED_EVENT, {"outage_s": outage}, meta)

    # -- the rest of RateLimiter -----------------------------------------------------------

    def pause(self, model: str, seconds: float, now: float) -> None:
        """Pause ``model`` here and publish the pause to the other nodes (at the next
        :meth:`share_pauses` or acquire)."""
        super().pause(model, seconds, now)
        if model in self._publish or len(self._publish) < _MAX_PAUSES:
            self._publish[model] = max(seconds, self._publish.get(model, 0.0))

    async def share_pauses(self) -> None:
        """Publish this node's new pauses now (one script call that takes nothing); an
        outage leaves them to the next acquire."""
        if not self._publish or self._down_since is not None:
            return
        async with self._lock:
            if self._publish:
                await self._renew(0)

    def reconcile(self, estimated: int, actual: int) -> None:
        """Correct the token lease (or, during an outage, the fallback bucket)."""
        if self._down_since is not None:
            super().reconcile(estimated, actual)
        elif self._tok.rate:
            self._held[1] += estimated - actual

    async def aclose(self) -> None:
        """Close the Redis client made here (a given client is the caller's)."""
        if self._own_client and self._client is not None:
            await self._client.aclose()
        self._client = self._script = None

    def stats(self) -> dict[str, Any]:
        view = super().stats()
        view.update(
            shared=True,
            mode="fallback" if self._down_since is not None else "shared",
            leased_requests=self._held[0] if self._req.rate else None,
            leased_tokens=self._held[1] if self._tok.rate else None,
            renewals=self.renewals,
            outages=self.outages,
            fallback_acquires=self.fallback_acquires,
        )
        return view
