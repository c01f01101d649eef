"""``CachePolicy(scope="tenant")`` end to end: agents get a tenant at spawn; agents of one
tenant share cached tool results, other tenants never see them (issue 13 §7). Run on the
memory cache and on the real Redis."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import pytest
from support.agents import fast_config

from agentrt.agent import Agent
from agentrt.errors import ConfigError
from agentrt.runtime import CacheConfig, Runtime, RuntimeConfig
from agentrt.tools import CachePolicy, RedisCacheConfig, ToolPolicy, tool

RUNS: list[str] = []


@tool(policy=ToolPolicy(cache=CachePolicy(ttl=600, scope="tenant")))
async def account_balance(account: str) -> dict[str, Any]:
    """The balance of an account, as the tenant's own backend reports it."""
    RUNS.append(account)
    return {"account": account, "balance": len(RUNS)}


class Teller(Agent):
    tools = (account_balance,)

    async def handle_call(self, msg: Any, caller: Any) -> Any:
        if msg == "tenant":
            return self.tenant
        return await super().handle_call(msg, caller)


ASK = '[[tool:account_balance {"account": "42"}]]'


@pytest.fixture(params=["memory", "redis"])
def config(request: pytest.FixtureRequest, redis_url: str, redis_prefix: str) -> RuntimeConfig:
    if request.param == "memory":
        return fast_config()
    cache = CacheConfig(
        kind="redis",
        namespace=f"{redis_prefix}cache-{uuid.uuid4().hex[:6]}",
        redis=RedisCacheConfig(url=redis_url, key_prefix=redis_prefix),
    )
    return replace(fast_config(), cache=cache)


async def test_one_tenant_shares_cached_results_another_does_not(config: RuntimeConfig) -> None:
    RUNS.clear()
    async with Runtime(config) as rt:
        await rt.spawn(Teller, id="acme-1", tenant="acme")
        await rt.spawn(Teller, id="acme-2", tenant="acme")
        await rt.spawn(Teller, id="globex-1", tenant="globex")
        assert await rt.call("acme-1", "tenant") == "acme"  # visible to the agent
        first = (await rt.ask("acme-1", ASK)).text
        same_tenant = (await rt.ask("acme-2", ASK)).text
        assert RUNS == ["42"]  # acme-2 was served acme-1's cached result
        assert same_tenant == first
        other_tenant = (await rt.ask("globex-1", ASK)).text
        assert RUNS == ["42", "42"]  # globex ran the tool itself
        assert other_tenant != first
        again = (await rt.ask("globex-1", ASK)).text
        assert again == other_tenant
        assert RUNS == ["42", "42"]
        stats = rt.telemetry.agent("acme-2")
        assert stats is not None
        assert stats["cache_hits"] == 1


async def test_a_tenant_scoped_tool_needs_a_tenant() -> None:
    async with Runtime(fast_config()) as rt:
        with pytest.raises(ConfigError, match="tenant") as caught:
            await rt.spawn(Teller, id="nobody")
        assert "account_balance" in str(caught.value)
        for bad in ("", 7, "x\udc00"):
            with pytest.raises(ConfigError, match="tenant"):
                await rt.spawn(Teller, id=f"bad-{bad!r}"[:20], tenant=bad)
