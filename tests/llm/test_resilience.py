"""Issue 14 over real HTTP against the mock server: breakers per model, backpressure,
stale keep-alive connections, Retry-After forms, per-model pauses, waiting for the
half-open probe."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agentrt.llm import (
    BreakerConfig,
    ChatRequest,
    CircuitOpen,
    LLMPool,
    MockLLMServer,
    MockServerConfig,
    PoolConfig,
    ProviderUnavailable,
    RateLimited,
    RetryPolicy,
    serve_mock_llm,
)
from agentrt.llm._mockfaults import RETRY_HEADERS, RetryHeader
from agentrt.messages import Message

from .conftest import FAST_RETRY, provider


def ask(model: str, text: str = "hi") -> ChatRequest:
    return ChatRequest(model=model, messages=(Message.user(text),))


def breakers(pool: LLMPool, url: str, name: str = "mock") -> dict[str, Any]:
    stats: dict[str, Any] = pool.stats()["providers"][name]["backend"]["replicas"][url]
    return stats["breakers"]


def soon(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


PROXY = MockServerConfig(
    profiles={
        "mock-500": {"error_rate_500": 1.0},
        "mock-timeout": {"hang_rate": 1.0},
        "mock-limited": {"error_rate_429": 1.0, "retry_after_s": 60.0},
    }
)


async def test_one_failing_model_does_not_open_the_breaker_of_another() -> None:
    async with serve_mock_llm(PROXY) as proxy:
        config = provider(
            proxy.url,
            breaker=BreakerConfig(failure_threshold=1, reset_timeout_s=60),
            retry=RetryPolicy(max_retries=0),
            timeout_s=2.0,  # mock-timeout hangs till then; 0.2 s timed mock-500 out under load
        )
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            with pytest.raises(ProviderUnavailable, match="model 'mock-500'"):
                await pool.chat(ask("mock-500"))
            with pytest.raises(TimeoutError):
                await pool.chat(ask("mock-timeout"))
            assert (await pool.chat(ask("mock-chat"))).content == "echo: hi"
            with pytest.raises(CircuitOpen, match="model 'mock-500'"):
                await pool.chat(ask("mock-500"), deadline=soon(1))
            states = {k: v["state"] for k, v in breakers(pool, proxy.url).items()}
    assert states == {
        "chat:mock-500": "open",
        "chat:mock-timeout": "open",
        "chat:mock-chat": "closed",
    }


async def test_failing_embeddings_do_not_open_the_chat_breaker_of_the_same_model(
    server: MockLLMServer,
) -> None:
    config = provider(server.url, breaker=BreakerConfig(failure_threshold=1, reset_timeout_s=60))
    async with LLMPool(PoolConfig(providers=(config,))) as pool:
        server.state.fail_next.append(500)  # opens the breaker: the retries stop
        for _ in range(5):  # then the embeddings breaker is open: nothing more is sent
            with pytest.raises(ProviderUnavailable):
                await pool.embed(["x"], model="mock", deadline=soon(0.5))
        assert server.state.counts["http"] == 1
        assert (await pool.chat(ask("mock"))).content == "echo: hi"
        states = {k: v["state"] for k, v in breakers(pool, server.url).items()}
    assert states == {"embeddings:mock": "open", "chat:mock": "closed"}


async def test_stale_keepalive_connections_are_retried_at_once_and_are_not_failures() -> None:
    async with serve_mock_llm() as server:
        config = provider(
            server.url,
            breaker=BreakerConfig(failure_threshold=1),
            retry=RetryPolicy(max_retries=0),  # no pool retry: the transport must do it
        )
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            await asyncio.gather(*(pool.chat(ask("mock", f"warm {i}")) for i in range(10)))
            assert server.state.drop_idle_connections() == 10
            replies = await asyncio.gather(*(pool.chat(ask("mock", f"q{i}")) for i in range(10)))
            stats = pool.stats()["providers"]["mock"]["backend"]["replicas"][server.url]
    assert [r.content for r in replies] == [f"echo: q{i}" for i in range(10)]
    assert server.state.counts["dropped_connections"] == 10
    assert stats["connections"]["stale_retries"] == 10
    assert stats["failures"] == 0
    assert stats["breakers"]["chat:mock"]["opened"] == 0


async def test_errors_then_dropped_keepalive_connections_recover() -> None:
    async with serve_mock_llm(MockServerConfig(drop_after_error=True)) as server:
        config = provider(server.url, breaker=BreakerConfig(failure_threshold=50))
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            server.state.fail_next.extend([500] * 10)
            replies = await asyncio.gather(*(pool.chat(ask("mock", f"q{i}")) for i in range(10)))
    assert len(replies) == 10
    assert server.state.counts["dropped_connections"] == 10


async def test_admission_503_with_retry_after_is_backpressure_not_breakage() -> None:
    admission = MockServerConfig(admission_limit=4, retry_after_s=0.02, latency_ms=20)
    async with serve_mock_llm(admission) as server:
        config = provider(
            server.url,
            breaker=BreakerConfig(failure_threshold=1, reset_timeout_s=60),
            retry=RetryPolicy(max_retries=50, base_delay_s=0.01, max_delay_s=0.05),
        )
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            replies = await asyncio.gather(*(pool.chat(ask("mock", f"q{i}")) for i in range(20)))
            state = breakers(pool, server.url)["chat:mock"]
            limiter = pool.stats()["providers"]["mock"]["rate_limit"]
    assert len(replies) == 20
    assert server.state.counts["admission_503"] > 0
    assert state["opened"] == 0
    assert state["consecutive_failures"] == 0
    assert limiter["pauses"] > 0  # the 503s paused the model in the rate limiter


async def test_each_request_counts_once_against_the_breaker(server: MockLLMServer) -> None:
    config = provider(server.url, breaker=BreakerConfig(failure_threshold=2, reset_timeout_s=60))
    async with LLMPool(PoolConfig(providers=(config,))) as pool:
        server.state.fail_next.extend([500, 500, 500])  # one request, three failed tries
        assert (await pool.chat(ask("mock"))).content == "echo: hi"
        assert breakers(pool, server.url)["chat:mock"]["opened"] == 0
        server.state.fail_next.extend([500] * 5)  # two requests failing every try
        for _ in range(2):
            with pytest.raises(ProviderUnavailable):
                await pool.chat(ask("mock"), deadline=soon(5))
        assert breakers(pool, server.url)["chat:mock"]["state"] == "open"
    assert server.state.counts["http"] == 4 + 4 + 1  # the second request opened it


async def test_a_run_of_503s_from_a_mostly_healthy_server_does_not_open_its_breaker(
    server: MockLLMServer,
) -> None:
    # the chaos scenario's 10 s stall: five 503s in a row among hundreds of answers
    # opened the breaker with the default policy, and every agent waited for the probe
    config = provider(server.url, breaker=BreakerConfig(), retry=RetryPolicy(max_retries=0))
    async with LLMPool(PoolConfig(providers=(config,))) as pool:
        for i in range(15):
            await pool.chat(ask("mock", f"ok{i}"))
        server.state.fail_next.extend([503] * 5)
        for _ in range(5):
            with pytest.raises(ProviderUnavailable) as failed:
                await pool.chat(ask("mock"), deadline=soon(1))
            assert not isinstance(failed.value, CircuitOpen)
        assert (await pool.chat(ask("mock", "after"))).content == "echo: after"
        state = breakers(pool, server.url)["chat:mock"]
        assert (state["state"], state["opened"]) == ("closed", 0)
        server.state.fail_next.extend([503] * 5)  # it goes down: 10 of the last 20 fail
        for _ in range(5):
            with pytest.raises(ProviderUnavailable) as failed:
                await pool.chat(ask("mock"), deadline=soon(1))
            assert not isinstance(failed.value, CircuitOpen)
        with pytest.raises(CircuitOpen):
            await pool.chat(ask("mock"), deadline=soon(1))
        state = breakers(pool, server.url)["chat:mock"]
    assert (state["state"], state["opened"], state["failure_rate"]) == ("open", 1, 0.5)
    assert server.state.counts["http"] == 15 + 5 + 1 + 5  # nothing sent once open


async def test_callers_wait_for_the_half_open_probe_within_their_deadline(
    server: MockLLMServer,
) -> None:
    # reset_timeout_s leaves ample room for the "before the probe" call under load
    breaker = BreakerConfig(failure_threshold=1, reset_timeout_s=2.0)
    config = provider(server.url, breaker=breaker, retry=RetryPolicy(max_retries=0))
    async with LLMPool(PoolConfig(providers=(config,))) as pool:
        server.state.fail_next.append(500)
        with pytest.raises(ProviderUnavailable):
            await pool.chat(ask("mock"))
        sent = server.state.counts["http"]
        with pytest.raises(CircuitOpen):  # the deadline ends before the probe: at once
            await pool.chat(ask("mock"), deadline=soon(0.1))
        assert server.state.counts["http"] == sent  # nothing was sent
        replies = await asyncio.gather(
            *(pool.chat(ask("mock", f"w{i}"), deadline=soon(10)) for i in range(5))
        )
        state = breakers(pool, server.url)["chat:mock"]
    assert [r.content for r in replies] == [f"echo: w{i}" for i in range(5)]
    assert state["state"] == "closed"
    assert server.state.counts["http"] == sent + 5  # one probe, then the rest


async def test_half_open_admits_one_probe_and_fails_waiters_whose_deadline_ends_first(
    server: MockLLMServer,
) -> None:
    """While the probe hangs, every other caller waits for it (nothing more is sent) and
    gets CircuitOpen when its own deadline comes first."""
    breaker = BreakerConfig(failure_threshold=1, reset_timeout_s=0.05)
    config = provider(server.url, breaker=breaker, retry=RetryPolicy(max_retries=0))
    async with LLMPool(PoolConfig(providers=(config,))) as pool:
        server.state.fail_next.extend([500, "hang"])
        with pytest.raises(ProviderUnavailable):
            await pool.chat(ask("mock"))
        probe = asyncio.create_task(pool.chat(ask("mock"), deadline=soon(60)))
        while server.state.counts["fault_hang"] == 0:  # the probe is in flight
            await asyncio.sleep(0.01)
        waiters = [pool.chat(ask("mock", f"w{i}"), deadline=soon(0.3)) for i in range(8)]
        results = await asyncio.gather(*waiters, return_exceptions=True)
        sent = server.state.counts["http"]
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe
    assert all(isinstance(r, CircuitOpen) for r in results), results
    assert sent == 2  # the failure and the one probe


async def test_a_429_with_a_long_retry_after_fails_at_once_and_pauses_the_model() -> None:
    async with serve_mock_llm(PROXY) as proxy:
        config = provider(proxy.url, retry=RetryPolicy(max_retries=3, max_retry_after_s=120))
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            with pytest.raises(RateLimited) as first:
                await pool.chat(ask("mock-limited"), deadline=soon(5))
            assert proxy.state.counts["status_429"] == 1  # not retried: 60 s > deadline
            results = await asyncio.gather(
                *(pool.chat(ask("mock-limited"), deadline=soon(5)) for _ in range(10)),
                return_exceptions=True,
            )
            healthy = await pool.chat(ask("mock-chat"), deadline=soon(5))
    assert first.value.retry_after == pytest.approx(60, abs=1)
    assert "model 'mock-limited'" in str(first.value)
    assert all(isinstance(r, RateLimited) and r.retry_after > 50 for r in results)
    assert proxy.state.counts["status_429"] == 1  # the swarm learnt from the first one
    assert healthy.content == "echo: hi"


@pytest.mark.parametrize("form", RETRY_HEADERS)
async def test_every_retry_after_form_is_honoured(form: RetryHeader) -> None:
    limited = MockServerConfig(error_rate_429=1.0, retry_after_s=30, retry_header=form)
    async with serve_mock_llm(limited) as server:
        config = provider(server.url, retry=RetryPolicy(max_retries=3, max_retry_after_s=60))
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            with pytest.raises(RateLimited) as info:
                await pool.chat(ask("mock"), deadline=soon(5))
    assert info.value.retry_after == pytest.approx(30, abs=1.5)
    assert server.state.counts["status_429"] == 1  # told 30 s, deadline 5 s: no retry


@pytest.mark.parametrize("form", RETRY_HEADERS)
async def test_a_short_retry_after_is_waited_then_retried(form: RetryHeader) -> None:
    async with serve_mock_llm(MockServerConfig(retry_after_s=0.02, retry_header=form)) as server:
        config = provider(server.url, retry=FAST_RETRY)
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            server.state.fail_next.append(429)
            reply = await pool.chat(ask("mock"), deadline=soon(10))
    assert reply.content == "echo: hi"
    assert server.state.counts["http"] == 2


async def test_a_retry_after_over_the_policy_cap_is_not_waited_for() -> None:
    limited = MockServerConfig(retry_after_s=45)
    async with serve_mock_llm(limited) as server:
        config = provider(server.url, retry=RetryPolicy(max_retries=3, max_retry_after_s=30))
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            server.state.fail_next.append(429)
            with pytest.raises(RateLimited):
                await pool.chat(ask("mock"), deadline=soon(600))
    assert server.state.counts["http"] == 1


@pytest.mark.parametrize(
    ("fault", "counted"),
    [
        (400, False),  # the server works: the request is wrong
        (401, False),
        (404, False),
        (422, False),
        ("context", False),  # ContextLengthExceeded
        (429, False),  # backpressure: the rate limiter's business
        (409, False),
        (529, False),
        (500, True),  # the server says it is broken
        (503, True),  # without Retry-After
        ("invalid_json", True),
    ],
)
async def test_only_answers_that_say_the_server_is_broken_count(fault: Any, counted: bool) -> None:
    quick = MockServerConfig(retry_after_s=0.01)
    async with serve_mock_llm(quick) as server:
        config = provider(
            server.url,
            breaker=BreakerConfig(failure_threshold=1, reset_timeout_s=60),
            retry=RetryPolicy(max_retries=0),
        )
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            server.state.fail_next.append(fault)
            with pytest.raises(Exception):  # noqa: B017  (each fault its own error type)
                await pool.chat(ask("mock"), deadline=soon(5))
            state = breakers(pool, server.url)["chat:mock"]
    assert state["opened"] == (1 if counted else 0)
    assert state["state"] == ("open" if counted else "closed")


async def test_circuit_open_names_provider_model_and_url_never_the_key(
    server: MockLLMServer,
) -> None:
    config = provider(
        server.url,
        api_key_env="MOCK_KEY",
        breaker=BreakerConfig(failure_threshold=1, reset_timeout_s=60),
        retry=RetryPolicy(max_retries=0),
    )
    env = {"MOCK_KEY": "sk-very-secret"}
    async with LLMPool(PoolConfig(providers=(config,)), env=env) as pool:
        server.state.fail_next.append(500)
        with pytest.raises(ProviderUnavailable):
            await pool.chat(ask("gpt-x"))
        with pytest.raises(CircuitOpen) as info:
            await pool.chat(ask("gpt-x"), deadline=soon(0.2))
    text = str(info.value)
    assert "provider 'mock'" in text
    assert "model 'gpt-x'" in text
    assert server.url in text
    assert "sk-very-secret" not in text + repr(info.value)


async def test_retries_told_the_same_retry_after_are_spread_never_below_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten callers told `Retry-After: 0.2` at once: the waits the pool chose (the real
    retry_delay, recorded as it returns) are all at least 0.2 s and not one lock-step
    wave. A verdict on the chosen delays, not on elapsed time."""
    import agentrt.llm._failover as failover_module

    chosen: list[float] = []
    real = failover_module.retry_delay

    def recording(*args: Any) -> float | None:
        delay = real(*args)
        if delay is not None:
            chosen.append(delay)
        return delay

    monkeypatch.setattr(failover_module, "retry_delay", recording)
    limited = MockServerConfig(retry_after_s=0.2, latency_ms=50)
    async with serve_mock_llm(limited) as server:
        config = provider(server.url, retry=RetryPolicy(max_retries=3, jitter=0.5))
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            server.state.fail_next.extend([429] * 10)
            replies = await asyncio.gather(
                *(pool.chat(ask("mock", f"q{i}"), deadline=soon(30)) for i in range(10))
            )
    assert [r.content for r in replies] == [f"echo: q{i}" for i in range(10)]
    assert len(chosen) == 10  # each caller retried once
    assert min(chosen) >= 0.2
    assert len({round(d, 6) for d in chosen}) > 1  # jittered, not one wave
