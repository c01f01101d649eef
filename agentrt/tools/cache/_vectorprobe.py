"""Which vector search a Redis server offers, asked once at start (``MODULE LIST``).

The semantic LLM cache searches its vectors in process (``agentrt.llm.SemanticIndex``).
A Redis-native search is **not built**: the Redis it was developed against (7.0.15, no
modules) has neither RediSearch's ``FT.SEARCH`` nor Redis 8's vector sets (``VADD`` /
``VSIM``), so no such path could be tested against a real server. The runtime still asks
the configured Redis what it has, and reports it next to the index in use
(``stats()["semantic_cache"]["index"]["redis_vector_search"]`` and the
``("agentrt", "llm", "semantic_index")`` event), so an operator sees what a future
Redis path could use.

Example::

    await redis_vector_search(RedisCacheConfig(url="redis://127.0.0.1:6379/0"))  # "none"
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from agentrt.redact import redact_url
from agentrt.tools.cache._redis_config import RedisCacheConfig

__all__ = ["VectorSearch", "redis_vector_search"]

#: What the server has: vector sets (Redis 8 ``VADD``/``VSIM``), the query engine
#: (RediSearch ``FT.SEARCH``), neither, or unknown (the server did not answer / refused).
VectorSearch = Literal["vectorset", "search", "none", "unknown"]

_log = logging.getLogger("agentrt.tools.cache")


async def redis_vector_search(config: RedisCacheConfig) -> VectorSearch:
    """Ask the server at ``config.url`` (``MODULE LIST``, within ``connect_timeout`` +
    ``op_timeout``) which vector search it has. Never raises: a server that is down,
    refuses the command or answers oddly is ``"unknown"`` (logged, password hidden)."""
    client = aioredis.Redis.from_url(
        config.url,
        socket_timeout=config.op_timeout,
        socket_connect_timeout=config.connect_timeout,
    )
    try:
        async with asyncio.timeout(config.connect_timeout + config.op_timeout):
            modules = await client.module_list()
        names = {_name(module) for module in modules}
    except (RedisError, OSError, TimeoutError, TypeError, ValueError) as exc:
        _log.warning(
            "could not ask Redis at %s for its modules (%s: %s)",
            redact_url(config.url),
            type(exc).__name__,
            exc,
        )
        return "unknown"
    finally:
        await client.aclose()
    if "vectorset" in names:
        return "vectorset"
    if names & {"search", "ft", "searchlight"}:
        return "search"
    return "none"


def _name(module: object) -> str:
    """A ``MODULE LIST`` entry's name (a dict, or a flat [b"name", b"...", ...] list)."""
    if isinstance(module, dict):
        value = module.get(b"name", module.get("name", b""))
    elif isinstance(module, list | tuple) and len(module) >= 2:
        value = module[1]
    else:
        raise ValueError(f"unexpected MODULE LIST entry {module!r}")
    return (value.decode() if isinstance(value, bytes) else str(value)).lower()
