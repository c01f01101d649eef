"""Agents and the LLM response cache: a per-agent policy (class attribute or spawn
option) over the pool's default (off), savings in each agent's stats and the runtime's
summary; over real HTTP to the mock LLM server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support.agents import fast_config

from agentrt.agent import Agent
from agentrt.errors import ConfigError
from agentrt.llm import PoolConfig, ProviderConfig, ResponseCachePolicy
from agentrt.runtime import Runtime, RuntimeConfig
from agentrt.testing import serve_mock_llm

CACHED = ResponseCachePolicy(enabled=True)


class Deterministic(Agent):
    system_prompt = "Answer briefly."
    temperature = 0.0


class CachedAgent(Deterministic):
    llm_cache = CACHED


async def test_agents_share_cached_answers_and_account_the_savings() -> None:
    async with serve_mock_llm() as server:
        provider = ProviderConfig(
            name="local", base_urls=(server.url,), price_in_per_1k=1.0, price_out_per_1k=2.0
        )
        cfg = replace(fast_config(), llm=PoolConfig(providers=(provider,)))
        async with Runtime(cfg) as rt:
            await rt.spawn(CachedAgent, id="a")
            await rt.spawn(Deterministic, id="b", llm_cache=CACHED)  # the spawn option
            await rt.spawn(Deterministic, id="off")  # the pool's default: off
            first = await rt.ask("a", "what are your hours?")
            second = await rt.ask("b", "what are your hours?")
            await rt.ask("off", "what are your hours?")
            a, b = rt.telemetry.agent("a"), rt.telemetry.agent("b")
            off = rt.telemetry.agent("off")
            summary = rt.telemetry.summary()["llm_cache"]
    assert second.text == first.text
    assert server.state.counts["chat"] == 2  # a's miss, and the agent without the cache
    assert a is not None
    assert b is not None
    assert off is not None
    assert (a["llm_cache_misses"], a["llm_cache_hits"], a["llm_requests"]) == (1, 0, 1)
    assert (b["llm_cache_hits"], b["llm_requests"], b["cost"]) == (1, 0, 0.0)
    assert b["llm_cache_cost_saved"] == a["cost"] > 0
    assert b["llm_cache_tokens_saved"] == a["tokens_in"] + a["tokens_out"]
    assert (off["llm_cache_hits"], off["llm_cache_misses"]) == (0, 0)
    assert (summary["hits"], summary["misses"], summary["hit_ratio"]) == (1, 1, 0.5)
    assert summary["cost_saved"] == b["llm_cache_cost_saved"]


def test_the_pool_policy_comes_from_the_runtime_config_file(tmp_path: Path) -> None:
    path = tmp_path / "rt.toml"
    path.write_text('[llm.response_cache]\nenabled = true\nttl_s = 60\ntags = ["faq"]\n')
    policy = RuntimeConfig.load(path).llm.response_cache
    assert policy == ResponseCachePolicy(enabled=True, ttl_s=60, tags=("faq",))
    path.write_text("[llm.response_cache]\nttl_s = -1\n")
    with pytest.raises(ConfigError, match=r"llm\.response_cache\.ttl_s.*rt\.toml:2"):
        RuntimeConfig.load(path)
