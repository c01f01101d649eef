"""LLMPool traffic shaping over real HTTP: backpressure, fairness, batching, coalescing,
replicas, rate limits; and the in-process mock provider."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from support.clock import FakeClock

from agentrt.errors import NotRunning
from agentrt.llm import (
    BatchConfig,
    BreakerConfig,
    ChatRequest,
    ChatResponse,
    DeadlineExceeded,
    InvalidRequest,
    LLMPool,
    MockLLMServer,
    MockProvider,
    Overloaded,
    PoolConfig,
    Priority,
    ProviderConfig,
    ProviderUnavailable,
    RetryPolicy,
    ToolSpec,
    serve_mock_llm,
)
from agentrt.llm._mockreply import mock_embedding
from agentrt.llm._ratelimit import RateLimiter
from agentrt.messages import Message

from .conftest import agent_view, ask, make_pool, provider


async def _hang_first(server: MockLLMServer, pool: LLMPool) -> asyncio.Task[ChatResponse]:
    """Occupy the only slot with a request the server never answers."""
    server.state.fail_next.append("hang")
    task = asyncio.create_task(pool.chat(ask("blocker"), agent_id="blocker"))
    while not server.state.counts["fault_hang"]:
        await asyncio.sleep(0.005)
    return task


async def _queued(pool: LLMPool, n: int) -> None:
    while pool.stats()["providers"]["mock"]["queue"]["waiting"] < n:
        await asyncio.sleep(0)


async def test_backpressure_at_the_queue_bound(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url, max_concurrency=1, max_queue=2)) as pool:
        blocker = await _hang_first(server, pool)
        waiting = [asyncio.create_task(pool.chat(ask(f"w{i}"))) for i in range(2)]
        await _queued(pool, 2)
        loop = asyncio.get_running_loop()
        with pytest.raises(Overloaded) as info:  # full: waits for a place until its deadline
            await pool.chat(ask("over"), deadline=loop.time() + 0.05)
        assert info.value.provider == "mock"
        queue = pool.stats()["providers"]["mock"]["queue"]
        assert (queue["active"], queue["waiting"], queue["overloaded"]) == (1, 2, 1)
        assert server.state.counts["http"] == 1  # nothing beyond the slot was sent
        blocker.cancel()
        results = await asyncio.gather(*waiting)
        assert [r.content for r in results] == ["echo: w0", "echo: w1"]
        assert agent_view(pool, "blocker") is None  # a cancelled request reports nothing


async def test_fairness_between_a_flooding_and_a_quiet_agent(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url, max_concurrency=1, max_queue=100)) as pool:
        blocker = await _hang_first(server, pool)
        flood = [
            asyncio.create_task(pool.chat(ask(f"flood {i}"), agent_id="flood")) for i in range(20)
        ]
        await _queued(pool, 20)
        quiet = asyncio.create_task(pool.chat(ask("quiet"), agent_id="quiet"))
        await _queued(pool, 21)
        blocker.cancel()
        await asyncio.gather(quiet, *flood)
        quiet_stats = agent_view(pool, "quiet")
        assert quiet_stats is not None
        assert quiet_stats["queue_wait_ms"] > 0  # it waited behind the blocker
    order = [m["messages"][0]["content"] for m in list(server.state.requests_seen)[1:]]
    assert order[:3] == ["flood 0", "quiet", "flood 1"]  # served after one flood request, not 20


async def test_priority_jumps_the_queue(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url, max_concurrency=1)) as pool:
        blocker = await _hang_first(server, pool)
        low = [
            asyncio.create_task(pool.chat(ask(f"low {i}"), priority=Priority.BACKGROUND))
            for i in range(3)
        ]
        await _queued(pool, 3)
        high = asyncio.create_task(pool.chat(ask("urgent"), priority=Priority.INTERACTIVE))
        await _queued(pool, 4)
        blocker.cancel()
        await asyncio.gather(high, *low)
    assert server.state.requests_seen[1]["messages"][0]["content"] == "urgent"


async def test_embedding_micro_batching_one_http_call(server: MockLLMServer) -> None:
    batch = BatchConfig(max_batch_size=10, max_wait_ms=10_000)
    async with make_pool(provider(server.url, batch=batch, price_in_per_1k=1.0)) as pool:
        texts = [f"text {i}" for i in range(10)]
        results = await asyncio.gather(
            *(pool.embed([t], model="mock-embed", agent_id=f"a{i}") for i, t in enumerate(texts))
        )
        stats = pool.stats()
    assert server.state.counts["embeddings"] == 1  # ten callers, one HTTP call
    assert server.state.counts["embedding_inputs"] == 10
    for text, result in zip(texts, results, strict=True):
        assert result.vectors == (tuple(mock_embedding(text, 8)),)
    assert stats["embedding_batches"]["mock-embed"]["batches"] == 1
    assert stats["providers"]["mock"]["embed_inputs"] == 10
    assert stats["providers"]["mock"]["cost"] > 0


async def test_embedding_batch_flushes_on_time_and_splits_on_size(server: MockLLMServer) -> None:
    batch = BatchConfig(max_batch_size=4, max_wait_ms=1)
    async with make_pool(provider(server.url, batch=batch)) as pool:
        single = await pool.embed(["alone"], model="mock-embed")  # flushed by the timer
        assert len(single.vectors) == 1
        multi = await asyncio.gather(
            pool.embed(["a", "b", "c"], model="mock-embed"),
            pool.embed(["d", "e"], model="mock-embed"),  # does not fit: next batch
            pool.embed(["f", "g", "h", "i", "j"], model="mock-embed"),  # too big: sent alone
        )
    assert [len(r.vectors) for r in multi] == [3, 2, 5]
    assert multi[2].vectors[4] == tuple(mock_embedding("j", 8))
    assert server.state.counts["embeddings"] == 4


async def test_embedding_batch_failure_reaches_every_caller(server: MockLLMServer) -> None:
    server.state.fail_next.append(400)
    batch = BatchConfig(max_batch_size=3, max_wait_ms=10_000)
    async with make_pool(provider(server.url, batch=batch)) as pool:
        results = await asyncio.gather(
            *(pool.embed([f"t{i}"], model="mock-embed") for i in range(3)), return_exceptions=True
        )
    assert [type(r).__name__ for r in results] == ["BadRequest"] * 3


async def test_embedding_input_validation(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url)) as pool:
        for bad in ([], "text", [1]):
            with pytest.raises(InvalidRequest, match="texts"):
                await pool.embed(bad, model="m")  # type: ignore[arg-type]


async def test_identical_deterministic_requests_are_coalesced(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url)) as pool:
        same = [pool.chat(ask("same", temperature=0), agent_id=f"a{i}") for i in range(5)]
        results = await asyncio.gather(*same)
        assert pool.stats()["coalesced"] == 4
        varied = [pool.chat(ask("same", temperature=0.7)) for _ in range(3)]
        await asyncio.gather(*varied)
    assert {r.content for r in results} == {"echo: same"}
    assert server.state.counts["chat"] == 1 + 3  # sampled requests are never merged


async def test_coalesced_followers_survive_the_leader_being_cancelled(
    server: MockLLMServer,
) -> None:
    server.state.fail_next.append("hang")
    async with make_pool(provider(server.url)) as pool:
        leader = asyncio.create_task(pool.chat(ask("same", temperature=0)))
        while not server.state.counts["fault_hang"]:
            await asyncio.sleep(0.005)
        follower = asyncio.create_task(pool.chat(ask("same", temperature=0)))
        await asyncio.sleep(0)
        leader.cancel()
        assert (await follower).content == "echo: same"  # it took over and sent again
    assert server.state.counts["http"] == 2


async def test_replicas_agent_affinity_and_breaker_failover() -> None:
    async with serve_mock_llm() as one, serve_mock_llm() as two:
        # failure_rate=0: the first failure opens it, whatever succeeded before
        breaker = BreakerConfig(failure_threshold=1, failure_rate=0.0, reset_timeout_s=60)
        config = provider([one.url, two.url], breaker=breaker)
        async with make_pool(config) as pool:
            for agent in ("alice", "bob", "carol", "dave", "erin", "frank"):
                for _ in range(3):
                    await pool.chat(ask(agent), agent_id=agent)
            per_agent: dict[str, set[int]] = {}
            for i, server in enumerate((one, two)):
                for seen in server.state.requests_seen:
                    per_agent.setdefault(seen["messages"][0]["content"], set()).add(i)
            assert all(len(replicas) == 1 for replicas in per_agent.values())  # sticky
            assert one.state.counts["chat"] > 0  # spread over both replicas
            assert two.state.counts["chat"] > 0
            one.state.fail_next.append(503)  # replica one fails once: its breaker opens
            for agent in ("alice", "bob", "carol", "dave", "erin", "frank"):
                assert (await pool.chat(ask(agent), agent_id=agent)).content == f"echo: {agent}"
            before = one.state.counts["http"]
            await asyncio.gather(*(pool.chat(ask(f"x{i}")) for i in range(10)))
            assert one.state.counts["http"] == before  # all traffic on replica two
            replicas = pool.stats()["providers"]["mock"]["backend"]["replicas"]
            assert replicas[one.url]["breakers"]["chat:mock"]["state"] == "open"


async def test_requests_per_minute_limit(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url, rpm=2)) as pool:
        await pool.chat(ask("1"))
        await pool.chat(ask("2"))
        loop = asyncio.get_running_loop()
        with pytest.raises(DeadlineExceeded, match="rate limit"):
            await pool.chat(ask("3"), deadline=loop.time() + 1)
        stats = pool.stats()["providers"]["mock"]
        assert stats["queue"]["active"] == 0
        assert stats["rate_limit"]["requests_available"] < 1
    assert server.state.counts["chat"] == 2


async def test_tokens_per_minute_are_estimated_then_reconciled(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url, tpm=10_000)) as pool:
        # a clock that stands still: no refill while the request is in flight
        pool._providers["mock"].limiter = RateLimiter("mock", tpm=10_000, clock=FakeClock())
        response = await pool.chat(ask("hello", max_tokens=500))
        available = pool.stats()["providers"]["mock"]["rate_limit"]["tokens_available"]
    # the estimate (about 506 tokens) was replaced by the reported usage (a few tokens);
    # the bucket refills while the test runs, so at most the usage is missing
    assert 10_000 - available <= response.usage.total_tokens + 1


async def test_unknown_model_and_bad_request_objects(server: MockLLMServer) -> None:
    config = provider(server.url, models=("gpt-x",))
    async with make_pool(config) as pool:
        with pytest.raises(InvalidRequest, match="no provider serves model 'mock'"):
            await pool.chat(ask("x"))
        with pytest.raises(InvalidRequest, match="messages"):
            await pool.chat(ChatRequest(model="gpt-x", messages=()))
        with pytest.raises(InvalidRequest, match="ChatRequest"):
            await pool.chat("hello")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="no provider config named"):
        LLMPool(PoolConfig(providers=(config,)), backends={"other": MockProvider()})


# -- the in-process mock provider ------------------------------------------------------------


async def test_mock_provider_scripts_replies_and_errors() -> None:
    mock = MockProvider(
        script=["scripted answer", ProviderUnavailable("mock", "injected", status=503)],
    )
    config = PoolConfig(
        providers=(ProviderConfig(name="mock", kind="mock", retry=RetryPolicy(max_retries=0)),)
    )
    async with LLMPool(config, backends={"mock": mock}) as pool:
        assert (await pool.chat(ask("x"))).content == "scripted answer"
        with pytest.raises(ProviderUnavailable, match="injected"):
            await pool.chat(ask("x"))
        assert (await pool.chat(ask("x"))).content == "echo: x"
        tools = (ToolSpec(name="sum"),)
        reply = await pool.chat(ask("[[tool:sum {}]]", tools=tools))
        assert reply.finish_reason == "tool_calls"
        async with pool.stream(ask("[[words:3]]")) as stream:
            assert [c.delta async for c in stream][:3] == ["w1", " w2", " w3"]
        vectors = await pool.embed(["a", "b"], model="e")
        assert vectors.vectors[1] == tuple(mock_embedding("b", 8))
    assert mock.calls == Counter({"chat": 4, "stream": 1, "embed": 1, "embed_inputs": 2})
    assert mock.closed


async def test_mock_provider_from_config_with_latency_and_timeout() -> None:
    config = ProviderConfig(
        name="mock",
        kind="mock",
        mock_latency_ms=50,
        timeout_s=0.01,
        retry=RetryPolicy(max_retries=0),
    )
    async with LLMPool(PoolConfig(providers=(config,))) as pool:
        with pytest.raises(Exception, match="timed out") as info:
            await pool.chat(ask("slow"))
        assert type(info.value).__name__ == "ProviderTimeout"
    fast = PoolConfig()  # the default config: one in-process mock provider
    async with LLMPool(fast) as pool:
        response = await pool.chat(ChatRequest(model="any", messages=(Message.user("hi"),)))
    assert response.content == "echo: hi"


async def test_a_stream_read_outside_its_async_with_is_not_running() -> None:
    config = PoolConfig(providers=(ProviderConfig(name="mock", kind="mock"),))
    async with LLMPool(config, backends={"mock": MockProvider()}) as pool:
        stream = pool.stream(ask("x"))
        with pytest.raises(NotRunning, match="use the stream inside") as info:
            await anext(stream)
    assert isinstance(info.value, RuntimeError)


async def test_the_backend_of_each_provider_is_reachable_by_name() -> None:
    mock = MockProvider()
    config = PoolConfig(providers=(ProviderConfig(name="mock", kind="mock"),))
    async with LLMPool(config, backends={"mock": mock}) as pool:
        assert pool.backend("mock") is mock
        with pytest.raises(InvalidRequest, match=r"no provider 'other'; configured: \['mock'\]"):
            pool.backend("other")
