"""Agents and the semantic cache: a tenant-scoped policy shares answers between the
agents of one tenant and never with another's (the agent passes its tenant on each
call); over real HTTP to the mock LLM server."""

from __future__ import annotations

from dataclasses import replace

from support.agents import fast_config

from agentrt.agent import Agent
from agentrt.llm import PoolConfig, ProviderConfig, ResponseCachePolicy, SemanticCachePolicy
from agentrt.runtime import Runtime
from agentrt.testing import serve_mock_llm


class TenantFaq(Agent):
    system_prompt = "Answer briefly."
    temperature = 0.0
    llm_cache = ResponseCachePolicy(
        semantic=SemanticCachePolicy(enabled=True, embedding_model="mock-embed", scope="tenant")
    )


async def test_a_tenant_scoped_semantic_cache_stays_within_the_tenant() -> None:
    async with serve_mock_llm() as server:
        provider = ProviderConfig(name="local", base_urls=(server.url,))
        cfg = replace(fast_config(), llm=PoolConfig(providers=(provider,)))
        async with Runtime(cfg) as rt:
            await rt.spawn(TenantFaq, id="a1", tenant="acme")
            await rt.spawn(TenantFaq, id="a2", tenant="acme")
            await rt.spawn(TenantFaq, id="g1", tenant="globex")
            first = await rt.ask("a1", "what are your hours?")
            shared = await rt.ask("a2", "what are your hours?")
            await rt.ask("g1", "what are your hours?")
            a2, g1 = rt.telemetry.agent("a2"), rt.telemetry.agent("g1")
            stats = rt.llm.stats()["semantic_cache"]
    assert shared.text == first.text
    assert server.state.counts["chat"] == 2  # acme's first question and globex's
    assert a2 is not None
    assert g1 is not None
    assert (a2["llm_cache_hits"], g1["llm_cache_hits"]) == (1, 0)
    assert (stats["hits"], stats["misses"]) == (1, 2)
