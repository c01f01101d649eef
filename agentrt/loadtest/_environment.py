"""The parts a load run stands up around the runtime: the mock LLM server in its own
process, a redis-server of its own (with outage windows), a memcached of its own, and the
runtime configuration that points at them.

:func:`run_environment` is an async context manager yielding a :class:`RunEnvironment`;
on exit it stops everything it started, also when the run failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from agentrt.errors import ConfigError
from agentrt.llm import PoolConfig, ProviderConfig, ResponseCachePolicy
from agentrt.llm._config import RetryPolicy
from agentrt.loadtest._scenario import Scenario
from agentrt.runtime import AgentsConfig, RuntimeConfig
from agentrt.runtime._config import CacheConfig, StoreConfig
from agentrt.testing._llm import MockLLMProcess
from agentrt.testing._memcached_server import MemcachedServer
from agentrt.testing._redis_server import RedisServer
from agentrt.tools.cache import MemcachedCacheConfig, RedisCacheConfig

__all__ = [
    "SHARED_MOCK_ENV",
    "RunEnvironment",
    "mock_llm_flags",
    "run_environment",
    "runtime_config",
]

#: Set by ``agentrt loadtest ab`` for its rounds: the URL of a mock LLM server it started
#: with the scenario's :func:`mock_llm_flags` (the same for A and B), used instead of a
#: mock process of the run's own (reset first: the run's counters and seeded faults start
#: as on a fresh server). Saves each round a process start-up and shutdown.
SHARED_MOCK_ENV = "AGENTRT_LOADTEST_SHARED_MOCK"


@dataclass
class RunEnvironment:
    """What a run talks to: the LLM's URL, Redis (URL and, when the runner owns it, the
    server), the runtime configuration, and the run's events (``(t, kind, detail)``)."""

    llm_url: str
    runtime: RuntimeConfig
    redis_url: str | None = None
    redis: RedisServer | None = None
    mock: MockLLMProcess | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    async def mock_stats(self) -> dict[str, Any] | None:
        """The mock server's counters, None without a mock server (or if it is gone)."""
        if self.mock is None:
            return None
        try:
            return await self.mock.stats()
        except Exception:  # the report must still be written
            return None

    async def redis_down(self) -> None:
        assert self.redis is not None
        await asyncio.to_thread(self.redis.stop)

    async def redis_up(self) -> None:
        assert self.redis is not None
        await asyncio.to_thread(self.redis.start)


#: The mock server's fields a scenario sets at run time (``POST /mock/faults``), not flags.
MOCK_SERVER_FIELDS = ("retry_header", "drop_after_error", "profiles")


def mock_llm_flags(scenario: Scenario) -> dict[str, Any]:
    """The ``agentrt mock-llm`` options for ``scenario`` (its ``[llm.mock]`` and LLM faults)."""
    mock, faults = scenario.llm.mock, scenario.faults
    return {
        "latency_ms": float(mock.latency) * 1000,
        "jitter_ms": float(mock.jitter) * 1000,
        "per_token_ms": float(mock.per_token) * 1000,
        "error_rate_500": mock.error_rate_500,
        "error_rate_503": min(1.0, mock.error_rate_503 + faults.llm_error_rate),
        "error_rate_429": mock.error_rate_429,
        "retry_after_s": float(mock.retry_after),
        "rate_limit_rps": mock.rate_limit_rps,
        "hang_rate": faults.llm_timeout_rate,
        "seed": scenario.seed,
    }


def base_runtime_config(scenario: Scenario) -> RuntimeConfig:
    """The scenario's ``[runtime].config`` file read (a relative path is relative to the
    scenario file's folder), or the defaults when it names none."""
    name = scenario.runtime.config
    if not name:
        return RuntimeConfig()
    path = Path(name)
    if not path.is_absolute() and scenario.source:
        path = Path(scenario.source).resolve().parent / path
    return RuntimeConfig.load(path)


def runtime_config(
    scenario: Scenario,
    llm_url: str,
    redis_url: str | None,
    workdir: str,
    memcached_url: str | None = None,
) -> RuntimeConfig:
    """The runtime configuration of a run: the scenario's ``[runtime].config`` file (if
    any) with the LLM provider, store, cache and agent settings of the scenario (Redis
    and memcached at the given URLs, else their defaults)."""
    spec, llm = scenario.runtime, scenario.llm
    base = base_runtime_config(scenario)
    provider = ProviderConfig(
        name="loadtest",
        kind="openai",
        base_urls=(llm_url,),
        api_key_env=llm.api_key_env,
        max_concurrency=llm.max_concurrency,
        max_queue=max(100_000, scenario.agents.count * 4),
        timeout_s=float(llm.timeout),
        retry=RetryPolicy(max_retries=llm.retries, base_delay_s=0.05, max_delay_s=1.0),
        price_in_per_1k=llm.price_in_per_1k,
        price_out_per_1k=llm.price_out_per_1k,
    )
    prefix = f"agentrt:loadtest:{os.getpid()}:{scenario.name}:"
    store = StoreConfig(
        kind=spec.store,
        path=os.path.join(workdir, "conversations.sqlite3"),
        url=redis_url or StoreConfig().url,
        prefix=prefix + "mem:",
    )
    cache = CacheConfig(
        kind=spec.cache,
        l2=spec.l2,
        namespace=prefix + "cache",
        redis=RedisCacheConfig(url=redis_url or RedisCacheConfig().url),
        memcached=MemcachedCacheConfig(url=memcached_url or MemcachedCacheConfig().url),
    )
    resident = base.memory.resident_chunks if spec.resident_chunks is None else spec.resident_chunks
    memory = replace(
        base.memory,
        durability=replace(base.memory.durability, mode=spec.durability),
        resident_chunks=resident,
    )
    agents = AgentsConfig(
        idle_timeout_s=None, max_restarts=max(1000, scenario.agents.count * 10), max_seconds=60.0
    )
    trim = base.trim_interval_s
    if spec.malloc_trim is False:
        trim = None
    elif spec.trim_interval is not None:
        trim = float(spec.trim_interval)
    elif spec.malloc_trim and trim is None:
        trim = RuntimeConfig().trim_interval_s
    return replace(
        base,
        name=f"loadtest-{scenario.name}",
        trim_interval_s=trim,
        llm=PoolConfig(
            providers=(provider,),
            response_cache=ResponseCachePolicy(
                enabled=llm.cache.enabled,
                ttl_s=float(llm.cache.ttl),
                allow_nonzero_temperature=llm.cache.allow_nonzero_temperature,
            ),
        ),
        store=store,
        cache=cache,
        memory=memory,
        agents=agents,
    )


@contextlib.asynccontextmanager
async def run_environment(scenario: Scenario) -> AsyncIterator[RunEnvironment]:
    """Start the mock LLM process, redis-server and memcached a scenario needs (a server
    whose URL the scenario gives is used instead, and the mock LLM of
    :data:`SHARED_MOCK_ENV` when it is set); stop the ones it started after."""
    async with contextlib.AsyncExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="agentrt-loadtest-"))
        spec = scenario.runtime
        redis: RedisServer | None = None
        redis_url = spec.redis_url
        if spec.uses_redis and redis_url is None:
            redis = await _own_server(stack, RedisServer())
            redis_url = redis.url
        memcached_url = spec.memcached_url
        if spec.uses_memcached and memcached_url is None:
            memcached_url = (await _own_server(stack, MemcachedServer())).url
        mock: MockLLMProcess | None = None
        if scenario.llm.kind == "mock":
            mock = MockLLMProcess(**mock_llm_flags(scenario))
            shared = os.environ.get(SHARED_MOCK_ENV)
            if shared:  # ab's server, started with these flags: stop() leaves it running
                mock.url = shared
                await mock.reset()
            else:
                await stack.enter_async_context(mock)
            wanted = scenario.llm.mock
            await mock.faults(**{f: getattr(wanted, f) for f in MOCK_SERVER_FIELDS})
            llm_url = mock.url
        else:
            assert scenario.llm.url is not None
            llm_url = scenario.llm.url
            key_env = scenario.llm.api_key_env
            if key_env and not os.environ.get(key_env):
                raise ConfigError("llm.api_key_env", f"environment variable {key_env} is unset")
        config = runtime_config(scenario, llm_url, redis_url, workdir, memcached_url)
        yield RunEnvironment(
            llm_url=llm_url, runtime=config, redis_url=redis_url, redis=redis, mock=mock
        )


_Server = TypeVar("_Server", RedisServer, MemcachedServer)


async def _own_server(stack: contextlib.AsyncExitStack[Any], server: _Server) -> _Server:
    """``server`` started for the run, closed when ``stack`` closes."""
    stack.callback(server.close)
    await asyncio.to_thread(server.start)
    return server
