"""Per-model accounting of a provider (``ProviderStats.models``): requests, errors by
class, rate-limit waits, tokens and cost, over the real HTTP path of the mock server."""

from __future__ import annotations

import asyncio

from agentrt.llm import ChatRequest, LLMPool, MockServerConfig, PoolConfig, serve_mock_llm
from agentrt.llm._accounting import MAX_MODELS, OTHER_MODEL, ProviderStats
from agentrt.messages import Message

from .conftest import provider


def ask(model: str, text: str) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message.user(text),))


async def test_each_model_has_its_requests_errors_waits_tokens_and_cost() -> None:
    limited = MockServerConfig(retry_after_s=0.3)
    async with serve_mock_llm(limited) as server:
        config = provider(server.url, price_in_per_1k=1.0, price_out_per_1k=2.0)
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            server.state.fail_next.append(429)  # the first request (model a) is told to wait
            first = asyncio.ensure_future(pool.chat(ask("model-a", "first")))
            async with asyncio.timeout(10):  # until the 429 paused model a
                while not pool.stats()["providers"]["mock"]["rate_limit"]["pauses"]:
                    await asyncio.sleep(0.005)
            await pool.chat(ask("model-a", "second"))  # waits out the pause
            await first
            await asyncio.gather(*(pool.chat(ask("model-b", f"q{i}")) for i in range(3)))
            stats = pool.stats()["providers"]["mock"]
    a, b = stats["models"]["model-a"], stats["models"]["model-b"]
    assert (a["requests"], a["succeeded"], a["errors"]) == (3, 2, {"RateLimited": 1})
    assert a["rate_limit_waits"] >= 1  # waited out the pause the 429 asked for
    assert a["rate_limit_wait_s"] > 0
    assert (b["requests"], b["succeeded"], b["errors"], b["rate_limit_waits"]) == (3, 3, {}, 0)
    for model in (a, b):
        assert model["input_tokens"] > 0
        assert model["output_tokens"] > 0
        assert model["cost"] > 0
    assert a["requests"] + b["requests"] == stats["requests"]
    assert a["input_tokens"] + b["input_tokens"] == stats["input_tokens"]
    assert round(a["cost"] + b["cost"], 9) == stats["cost"]


def test_models_past_the_bound_share_one_entry() -> None:
    stats = ProviderStats()
    for i in range(MAX_MODELS + 5):
        stats.model(f"m{i}").requests += 1
    assert len(stats.models) == MAX_MODELS + 1
    assert stats.models[OTHER_MODEL].requests == 5
    assert stats.model("m0").requests == 1  # a tracked one stays its own
