"""The LLM response cache: policy, key, TTL and tags, single-flight, damaged values and
savings accounting, through LLMPool over real HTTP to the mock server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import pytest
from support.clock import FakeClock
from support.waiting import eventually

from agentrt.errors import ConfigError
from agentrt.llm import (
    CACHE_DECODE_ERROR_EVENT,
    BadRequest,
    ChatRequest,
    DeadlineExceeded,
    JsonSchemaFormat,
    LLMPool,
    MockLLMServer,
    PoolConfig,
    ProviderConfig,
    ResponseCache,
    ResponseCachePolicy,
    ToolSpec,
    response_cache_key,
)
from agentrt.messages import ImagePart, Message, TextPart
from agentrt.telemetry import Events, Telemetry
from agentrt.tools import Entry, LLMResponseCache, MemoryBackend, ResultCache

from .conftest import agent_view, ask, provider

ON = ResponseCachePolicy(enabled=True)
PRICED: dict[str, Any] = {"price_in_per_1k": 1.0, "price_out_per_1k": 2.0}


def store(clock: FakeClock | None = None) -> LLMResponseCache:
    if clock is None:
        return LLMResponseCache(ResultCache(MemoryBackend(), namespace="t"))
    return LLMResponseCache(ResultCache(MemoryBackend(clock=clock), namespace="t", clock=clock))


def cached_pool(
    config: ProviderConfig,
    cache: ResponseCache | None,
    policy: ResponseCachePolicy = ON,
    events: Events | None = None,
) -> LLMPool:
    return LLMPool(
        PoolConfig(providers=(config,), response_cache=policy),
        response_cache=cache,
        recorder=Telemetry(),
        events=events,
    )


# -- the key -------------------------------------------------------------------------------


def test_key_ignores_timestamps_token_estimates_and_prompt_caching() -> None:
    plain = ChatRequest(model="m", messages=(Message.user("hi"),), temperature=0)
    noisy = ChatRequest(
        model="m",
        messages=(Message(role="user", content="hi", timestamp=12.5, tokens=3),),
        temperature=0.0,
        cache_prompt=True,
    )
    assert response_cache_key(plain) == response_cache_key(noisy)
    assert response_cache_key(plain).startswith("m:")


@pytest.mark.parametrize(
    "change",
    [
        {"model": "other"},
        {"messages": (Message.user("hi "),)},
        {"messages": (Message.user([TextPart("hi")]),)},
        {"messages": (Message.user([TextPart("hi"), ImagePart("https://x/a.png")]),)},
        {"messages": (Message.system("s"), Message.user("hi"))},
        {"tools": (ToolSpec(name="weather"),)},
        {"tool_choice": "none"},
        {"response_format": JsonSchemaFormat()},
        {"top_p": 0.5},
        {"max_tokens": 5},
        {"stop": ("x",)},
        {"seed": 1},
        {"extra_body": {"guided_json": {}}},
    ],
)
def test_key_changes_with_what_changes_the_answer(change: dict[str, Any]) -> None:
    base: dict[str, Any] = {"model": "m", "messages": (Message.user("hi"),), "temperature": 0}
    assert response_cache_key(ChatRequest(**base)) != response_cache_key(
        ChatRequest(**{**base, **change})
    )


def test_policy_checks_its_fields() -> None:
    with pytest.raises(ConfigError, match="ttl_s"):
        ResponseCachePolicy(enabled=True, ttl_s=0)
    with pytest.raises(ConfigError, match="tags"):
        ResponseCachePolicy(tags="faq")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="enabled"):
        ResponseCachePolicy(enabled="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="response_cache"):
        PoolConfig(response_cache=True)  # type: ignore[arg-type]


# -- the pool ------------------------------------------------------------------------------


async def test_off_by_default_even_with_a_store(server: MockLLMServer) -> None:
    pool = LLMPool(PoolConfig(providers=(provider(server.url),)), response_cache=store())
    async with pool:
        await pool.chat(ask("same", temperature=0))
        second = await pool.chat(ask("same", temperature=0))
        assert not second.cached
        assert pool.stats()["response_cache"]["lookups"] == 0
    assert server.state.counts["chat"] == 2


async def test_a_hit_costs_nothing_and_its_savings_are_accounted(server: MockLLMServer) -> None:
    async with cached_pool(provider(server.url, **PRICED), store()) as pool:
        first = await pool.chat(ask("same", temperature=0), agent_id="a1")
        second = await pool.chat(ask("same", temperature=0), agent_id="a1")
        third = await pool.chat(ask("same", temperature=0), agent_id="a2")
        stats = pool.stats()["response_cache"]
        a1, a2 = agent_view(pool, "a1"), agent_view(pool, "a2")
    assert server.state.counts["chat"] == 1
    assert not first.cached
    assert first.cost > 0
    for hit in (second, third):
        assert hit.cached
        assert hit.content == first.content
        assert (hit.cost, hit.usage.total_tokens) == (0.0, 0)
    spent = first.usage.total_tokens
    assert a1 is not None
    assert a2 is not None
    assert (a1["llm_requests"], a1["llm_cache_hits"], a1["llm_cache_misses"]) == (1, 1, 1)
    assert a1["cost"] == pytest.approx(first.cost)  # what was spent
    assert a1["llm_cache_cost_saved"] == pytest.approx(first.cost)
    assert a1["llm_cache_tokens_saved"] == spent
    assert (a2["llm_requests"], a2["llm_cache_hits"]) == (0, 1)
    assert (stats["hits"], stats["misses"], stats["hit_ratio"]) == (2, 1, pytest.approx(0.6667))
    assert stats["by_model"]["mock"]["tokens_saved"] == 2 * spent
    assert stats["cost_saved"] == pytest.approx(2 * first.cost)


async def test_nonzero_temperature_only_when_allowed(server: MockLLMServer) -> None:
    async with cached_pool(provider(server.url), store()) as pool:
        await pool.chat(ask("warm", temperature=0.7))
        assert not (await pool.chat(ask("warm", temperature=0.7))).cached
        assert not (await pool.chat(ask("warm"))).cached  # None: the provider's default
        assert pool.stats()["response_cache"]["skipped"] == 3
        allow = ResponseCachePolicy(enabled=True, allow_nonzero_temperature=True)
        await pool.chat(ask("warm", temperature=0.7), cache=allow)
        assert (await pool.chat(ask("warm", temperature=0.7), cache=allow)).cached
    assert server.state.counts["chat"] == 4


async def test_a_request_policy_overrides_the_pool_one(server: MockLLMServer) -> None:
    async with cached_pool(provider(server.url), store(), policy=ResponseCachePolicy()) as pool:
        await pool.chat(ask("q", temperature=0), cache=ON)
        assert (await pool.chat(ask("q", temperature=0), cache=ON)).cached
        assert not (await pool.chat(ask("q", temperature=0))).cached  # the pool's: off
    async with cached_pool(provider(server.url), store()) as pool:
        await pool.chat(ask("q", temperature=0))
        off = ResponseCachePolicy(enabled=False)
        assert not (await pool.chat(ask("q", temperature=0), cache=off)).cached


async def test_ttl_expiry(server: MockLLMServer) -> None:
    clock = FakeClock()
    policy = ResponseCachePolicy(enabled=True, ttl_s=60)
    async with cached_pool(provider(server.url), store(clock), policy) as pool:
        await pool.chat(ask("t", temperature=0))
        clock.advance(59)
        assert (await pool.chat(ask("t", temperature=0))).cached
        clock.advance(2)
        assert not (await pool.chat(ask("t", temperature=0))).cached
    assert server.state.counts["chat"] == 2


async def test_invalidate_by_tag(server: MockLLMServer) -> None:
    faq = ResponseCachePolicy(enabled=True, tags=("faq",))
    async with cached_pool(provider(server.url), store()) as pool:
        await pool.chat(ask("a", temperature=0), cache=faq)
        await pool.chat(ask("b", temperature=0))
        assert await pool.invalidate_cache_tag("faq") == 1
        assert not (await pool.chat(ask("a", temperature=0), cache=faq)).cached
        assert (await pool.chat(ask("b", temperature=0))).cached
        assert await pool.invalidate_cache_tag("llm") == 2  # every answer
        assert not (await pool.chat(ask("b", temperature=0))).cached


async def test_concurrent_misses_send_one_request(server: MockLLMServer) -> None:
    async with cached_pool(provider(server.url), store()) as pool:
        answers = await asyncio.gather(
            *(pool.chat(ask("burst", temperature=0), agent_id=f"a{i}") for i in range(20))
        )
        stats = pool.stats()["response_cache"]
    assert server.state.counts["chat"] == 1
    assert sum(not a.cached for a in answers) == 1
    assert (stats["hits"], stats["misses"]) == (19, 1)


async def test_streams_bypass_the_cache(server: MockLLMServer) -> None:
    async with cached_pool(provider(server.url), store()) as pool:
        for _ in range(2):
            async with pool.stream(ask("s", temperature=0)) as stream:
                async for _chunk in stream:
                    pass
        assert pool.stats()["response_cache"]["lookups"] == 0
    assert server.state.counts["stream"] == 2


async def test_a_provider_error_is_raised_and_not_stored(server: MockLLMServer) -> None:
    cache = store()
    async with cached_pool(provider(server.url, name="mock"), cache) as pool:
        server.state.fail_next.append(400)
        with pytest.raises(BadRequest):
            await pool.chat(ask("bad", temperature=0))
        assert not (await pool.chat(ask("bad", temperature=0))).cached
        assert (await pool.chat(ask("bad", temperature=0))).cached


async def test_an_undecodable_value_is_a_miss_with_an_event(server: MockLLMServer) -> None:
    clock = FakeClock()
    cache = store(clock)
    request = ask("damaged", temperature=0)
    key = f"t:llm:{response_cache_key(request)}"
    await cache.cache.backend.set(key, Entry({"content": 5, "usage": "lots"}, clock(), 60))
    events = Events()
    seen: list[Mapping[str, Any]] = []
    events.attach("t", CACHE_DECODE_ERROR_EVENT, lambda n, m, meta, s: seen.append(meta))
    async with cached_pool(provider(server.url), cache, events=events) as pool:
        answer = await pool.chat(request, agent_id="a1")
        assert answer.content == "echo: damaged"
        assert not answer.cached
        assert (await pool.chat(request)).cached  # the fresh answer replaced it
        stats = pool.stats()["response_cache"]
    assert stats["decode_errors"] == 1
    assert [m["model"] for m in seen] == ["mock"]
    assert server.state.counts["chat"] == 1


class BrokenStore:
    async def lookup(self, *args: Any, **kwargs: Any) -> tuple[Any, bool]:
        raise RuntimeError("store down")

    async def invalidate(self, key: str) -> bool:
        raise RuntimeError("store down")

    async def invalidate_tag(self, tag: str) -> int:
        raise RuntimeError("store down")


async def test_a_failing_store_never_fails_the_request(server: MockLLMServer) -> None:
    async with cached_pool(provider(server.url), BrokenStore()) as pool:
        assert (await pool.chat(ask("x", temperature=0))).content == "echo: x"
        assert pool.stats()["response_cache"]["errors"] == 1


async def test_a_caller_joining_a_fill_stops_at_its_own_deadline(server: MockLLMServer) -> None:
    server.state.fail_next.append("hang")  # the first request never answers
    async with cached_pool(provider(server.url), store()) as pool:
        loop = asyncio.get_running_loop()
        leader = asyncio.create_task(pool.chat(ask("slow", temperature=0)))
        await eventually(lambda: server.state.counts["fault_hang"] == 1)
        with pytest.raises(DeadlineExceeded):
            await pool.chat(ask("slow", temperature=0), deadline=loop.time() + 0.05)
        assert server.state.counts["http"] == 1  # it joined: nothing more was sent
        leader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leader
        answer = await pool.chat(ask("slow", temperature=0))  # the flight is gone
        assert answer.content == "echo: slow"
        assert not answer.cached
