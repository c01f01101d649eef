"""A second node for the cache invalidation tests: a real Runtime in its own process whose
tool cache is two-level on the Redis given on the command line.

``python tests/support/cachenode.py REDIS_URL KEY_PREFIX NAMESPACE`` prints
``{"ready": subscribed}`` once started, then answers one JSON line per command read on stdin:

- ``invoke SKU``: ``{"cached": bool, "content": str}`` of the ``price`` tool;
- ``has SKU``: ``{"has": bool}``, whether this node's L1 holds that result;
- ``quit``: closes the runtime and exits.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys

from agentrt.actor import NodeConfig
from agentrt.runtime import AgentsConfig, CacheConfig, Runtime, RuntimeConfig
from agentrt.tools import CachePolicy, RedisCacheConfig, ToolPolicy, TwoLevelBackend, tool
from agentrt.tools.cache._keys import tool_key

_RUNS = itertools.count(1)


@tool(policy=ToolPolicy(cache=CachePolicy(ttl=60, tags=("catalog",))))
def price(sku: str) -> str:
    """The price of ``sku``, naming the process and run that computed it."""
    return f"{sku}@{os.getpid()}#{next(_RUNS)}"


def config(url: str, prefix: str, namespace: str) -> RuntimeConfig:
    """Both nodes' configuration: a two-level tool cache on ``url``."""
    redis = RedisCacheConfig(url=url, key_prefix=prefix, op_timeout=5.0, connect_timeout=5.0)
    return RuntimeConfig(
        node=NodeConfig(watchdog=False, shutdown_timeout=2.0),
        agents=AgentsConfig(idle_timeout_s=None),
        cache=CacheConfig(kind="two_level", namespace=namespace, redis=redis),
    )


def price_key(namespace: str, sku: str) -> str:
    """The cache key of ``price(sku)``."""
    return tool_key(namespace, "price", price.canonical_arguments({"sku": sku}))


async def main(url: str, prefix: str, namespace: str) -> None:
    loop = asyncio.get_running_loop()
    async with Runtime(config(url, prefix, namespace), tools=[price]) as rt:
        cache = rt.tools.cache
        assert cache is not None
        assert isinstance(cache.backend, TwoLevelBackend)
        backend = cache.backend
        print(json.dumps({"ready": backend.stats()["subscribed"]}), flush=True)
        while line := (await loop.run_in_executor(None, sys.stdin.readline)).split():
            command, *args = line
            if command == "quit":
                break
            if command == "invoke":
                result = await rt.tools.invoke("price", {"sku": args[0]})
                answer = {"cached": result.cached, "content": result.content}
            else:
                answer = {"has": backend.l1.get_nowait(price_key(namespace, args[0])) is not None}
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
