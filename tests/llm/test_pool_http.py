"""LLMPool over real HTTP against the mock server: answers, streams, tools, failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from support.clock import FakeClock
from support.waiting import eventually

from agentrt.llm import (
    AuthenticationError,
    BreakerConfig,
    ChatRequest,
    CircuitOpen,
    DeadlineExceeded,
    HTTPBackend,
    LLMPool,
    MalformedResponse,
    MockLLMServer,
    PoolClosed,
    PoolConfig,
    ProviderConfig,
    ProviderUnavailable,
    RateLimited,
    RetryPolicy,
    ToolSpec,
    serve_mock_llm,
)
from agentrt.messages import Message

from .conftest import agent_view, ask, make_pool, provider

FIXTURES = Path(__file__).parent / "fixtures"


async def test_chat_success_with_cost_and_stats(server: MockLLMServer) -> None:
    config = provider(server.url, price_in_per_1k=1.0, price_out_per_1k=2.0)
    async with make_pool(config) as pool:
        response = await pool.chat(ask("hello"), agent_id="a1")
        assert response.content == "echo: hello"
        assert response.finish_reason == "stop"
        assert response.provider == "mock"
        usage = response.usage
        assert usage.input_tokens > 0
        assert usage.output_tokens > 0
        expected = (usage.input_tokens * 1.0 + usage.output_tokens * 2.0) / 1000
        assert response.cost == pytest.approx(expected)
        stats = pool.stats()["providers"]["mock"]
        assert (stats["requests"], stats["succeeded"]) == (1, 1)
        assert stats["cost"] == pytest.approx(expected)
        assert stats["input_tokens"] == usage.input_tokens
        assert stats["latency"]["count"] == 1
        agent = agent_view(pool, "a1")
        assert agent is not None
        assert agent["llm_requests"] == 1
        assert agent["cost"] == pytest.approx(expected)
        assert (agent["tokens_in"], agent["tokens_out"]) == (
            usage.input_tokens,
            usage.output_tokens,
        )
        assert agent_view(pool, "nobody") is None


async def test_model_alias_is_sent_as_the_provider_model(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url, model_aliases={"small": "mock-1"})) as pool:
        await pool.chat(ChatRequest(model="small", messages=(Message.user("x"),)))
    assert server.state.requests_seen[-1]["model"] == "mock-1"


async def test_tool_call_round_trip(server: MockLLMServer) -> None:
    tools = (ToolSpec(name="weather", description="Weather by city"),)
    async with make_pool(provider(server.url)) as pool:
        first = await pool.chat(ask('[[tool:weather {"city": "Oslo"}]]', tools=tools))
        assert first.finish_reason == "tool_calls"
        (call,) = first.tool_calls
        assert (call.name, json.loads(call.arguments)) == ("weather", {"city": "Oslo"})
        history = (
            Message.user("weather?"),
            first.message,
            Message.tool_result(call.id, '{"temp_c": 3}'),
        )
        second = await pool.chat(ChatRequest(model="mock", messages=history, tools=tools))
    assert second.content == 'tool result: {"temp_c": 3}'
    sent = server.state.requests_seen[-1]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[2] == {"role": "tool", "content": '{"temp_c": 3}', "tool_call_id": call.id}


async def test_stream_chunks_ttft_and_assembled_response(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url, price_out_per_1k=1.0)) as pool:
        async with pool.stream(ask("[[words:4]]"), agent_id="s") as stream:
            deltas = [chunk.delta async for chunk in stream]
        assert deltas[:4] == ["w1", " w2", " w3", " w4"]
        assert stream.ttft_s is not None
        assert stream.ttft_s >= 0
        response = stream.response
        assert response is not None
        assert response.content == "w1 w2 w3 w4"
        assert response.usage.output_tokens > 0
        assert response.cost == pytest.approx(response.usage.output_tokens / 1000)
        stats = pool.stats()["providers"]["mock"]
        assert stats["ttft"]["count"] == 1
        agent = agent_view(pool, "s")
        assert agent is not None
        assert agent["streams"] == 1
        assert agent["ttft_mean_ms"] == pytest.approx(stream.ttft_s * 1000, abs=0.01)
        assert stats["queue"]["active"] == 0
        assert server.state.requests_seen[-1]["stream_options"] == {"include_usage": True}


async def test_stream_tool_calls(server: MockLLMServer) -> None:
    tools = (ToolSpec(name="lookup"),)
    request = ask('[[tool:lookup {"q": "abc"}]]', tools=tools)
    async with make_pool(provider(server.url)) as pool, pool.stream(request) as stream:
        chunks = [c async for c in stream]
    assert chunks[-1].finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in chunks[-1].tool_calls] == [("lookup", '{"q": "abc"}')]


@contextlib.asynccontextmanager
async def custom_server(routes: list[web.RouteDef]) -> AsyncIterator[str]:
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


async def test_stream_passes_chunks_as_they_arrive() -> None:
    """The server sends the rest only after the client has seen the first chunk."""
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        first = {"choices": [{"index": 0, "delta": {"content": "first"}, "finish_reason": None}]}
        await response.write(b"data: " + json.dumps(first).encode() + b"\n\n")
        await release.wait()
        last = {"choices": [{"index": 0, "delta": {"content": " last"}, "finish_reason": "stop"}]}
        await response.write(b"data: " + json.dumps(last).encode() + b"\n\ndata: [DONE]\n\n")
        return response

    async with (
        custom_server([web.post("/v1/chat/completions", handler)]) as url,
        make_pool(provider(url)) as pool,
        pool.stream(ask("x")) as stream,
    ):
        async with asyncio.timeout(10):  # a buffering client would never get here
            first = await anext(stream)
        assert first.delta == "first"
        release.set()
        rest = [c async for c in stream]
    assert stream.response is not None
    assert stream.response.content == "first last"
    assert rest[-1].finish_reason == "stop"


async def test_anthropic_provider_over_http_sends_key_from_env() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        seen["headers"] = dict(request.headers)
        seen["body"] = await request.json()
        return web.Response(
            body=(FIXTURES / "anthropic_tool_use.json").read_bytes(),
            content_type="application/json",
        )

    async with custom_server([web.post("/v1/messages", handler)]) as url:
        config = ProviderConfig(
            name="claude", kind="anthropic", base_urls=(url,), api_key_env="TEST_ANTHROPIC_KEY"
        )
        env = {"TEST_ANTHROPIC_KEY": "sk-ant-secret"}
        async with LLMPool(PoolConfig(providers=(config,)), env=env) as pool:
            request = ChatRequest(
                model="claude-x", messages=(Message.system("s"), Message.user("hi"))
            )
            response = await pool.chat(request)
            shown = repr(pool.stats()) + repr(pool.config) + repr(pool.backend("claude"))
    assert seen["headers"]["x-api-key"] == "sk-ant-secret"
    assert seen["headers"]["anthropic-version"] == "2023-06-01"
    assert seen["body"]["system"] == "s"
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls[0].name == "get_weather"
    assert "sk-ant-secret" not in shown


async def test_missing_api_key_variable_fails_at_construction() -> None:
    config = ProviderConfig(name="p", api_key_env="SURELY_UNSET_AGENTRT_KEY")
    with pytest.raises(Exception, match="SURELY_UNSET_AGENTRT_KEY"):
        LLMPool(PoolConfig(providers=(config,)), env={})


async def test_retries_5xx_then_succeeds(server: MockLLMServer) -> None:
    server.state.fail_next.extend([503, 500])
    async with make_pool(provider(server.url)) as pool:
        response = await pool.chat(ask("hello"), agent_id="retrier")
        stats = pool.stats()["providers"]["mock"]
        assert agent_view(pool, "retrier")["retries"] == 2  # type: ignore[index]
    assert response.content == "echo: hello"
    assert stats["retries"] == 2
    assert stats["errors"] == {"ProviderUnavailable": 2}
    assert server.state.counts["http"] == 3


async def test_retry_honours_retry_after() -> None:
    """Exponential backoff here would be 60 s, past the deadline; Retry-After says 10 ms."""
    async with serve_mock_llm() as server:
        server.state.reconfigure(server.state.config.__class__(retry_after_s=0.01))
        server.state.fail_next.extend([429, 429])
        slow = RetryPolicy(max_retries=3, base_delay_s=60, max_delay_s=60, jitter=0)
        async with make_pool(provider(server.url, retry=slow)) as pool:
            loop = asyncio.get_running_loop()
            response = await pool.chat(ask("x"), deadline=loop.time() + 20)
            assert pool.stats()["providers"]["mock"]["errors"] == {"RateLimited": 2}
        assert response.content == "echo: x"
        # without Retry-After the same policy gives up: its backoff cannot meet the deadline
        server.state.reconfigure(server.state.config.__class__(retry_after_s=0))
        server.state.fail_next.append(503)
        async with make_pool(provider(server.url, retry=slow)) as pool:
            with pytest.raises(ProviderUnavailable):
                await pool.chat(ask("x"), deadline=loop.time() + 20)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "BadRequest"),
        (401, "AuthenticationError"),
        (403, "AuthenticationError"),
        (404, "BadRequest"),
    ],
)
async def test_client_errors_are_never_retried(
    server: MockLLMServer, status: int, error: str
) -> None:
    server.state.fail_next.append(status)
    async with make_pool(provider(server.url)) as pool:
        with pytest.raises(Exception) as info:
            await pool.chat(ask("x"), agent_id="a")
        assert type(info.value).__name__ == error
        assert pool.stats()["providers"]["mock"]["retries"] == 0
        assert agent_view(pool, "a")["llm_errors"] == {error: 1}  # type: ignore[index]
    assert server.state.counts["http"] == 1
    assert isinstance(info.value, AuthenticationError) == (error == "AuthenticationError")


async def test_retries_exhausted_raise_the_last_error(server: MockLLMServer) -> None:
    server.state.fail_next.extend([429] * 4)
    server.state.reconfigure(server.state.config.__class__(retry_after_s=0))
    async with make_pool(provider(server.url)) as pool:
        with pytest.raises(RateLimited) as info:
            await pool.chat(ask("x"))
    assert info.value.status == 429
    assert server.state.counts["http"] == 4  # 1 + 3 retries


async def test_breaker_opens_probes_half_open_and_closes(server: MockLLMServer) -> None:
    breaker = BreakerConfig(failure_threshold=2, reset_timeout_s=60)
    config = provider(server.url, breaker=breaker, retry=RetryPolicy(max_retries=0))
    clock = FakeClock()  # the breaker's time moves only when the test says so
    async with make_pool(config) as pool:
        backend = pool.backend("mock")
        assert isinstance(backend, HTTPBackend)
        backend.replicas[0].breaker(("mock", "chat"))._clock = clock
        server.state.fail_next.extend([503, 503])
        for _ in range(2):
            with pytest.raises(ProviderUnavailable):
                await pool.chat(ask("x"))
        soon = asyncio.get_running_loop().time() + 0.01  # before the half-open probe
        with pytest.raises(CircuitOpen):  # open: nothing is sent
            await pool.chat(ask("x"), deadline=soon)
        assert server.state.counts["http"] == 2
        replica = pool.stats()["providers"]["mock"]["backend"]["replicas"][server.url]
        assert replica["breakers"]["chat:mock"]["state"] == "open"
        clock.advance(61)  # past reset_timeout_s: the next request is a probe
        server.state.fail_next.append(503)
        with pytest.raises(ProviderUnavailable):
            await pool.chat(ask("x"))  # failed probe: open again
        with pytest.raises(CircuitOpen):
            await pool.chat(ask("x"), deadline=asyncio.get_running_loop().time() + 0.01)
        clock.advance(61)
        assert (await pool.chat(ask("x"))).content == "echo: x"  # probe succeeds: closed
        replica = pool.stats()["providers"]["mock"]["backend"]["replicas"][server.url]
        assert replica["breakers"]["chat:mock"]["state"] == "closed"
        assert replica["breakers"]["chat:mock"]["opened"] == 2
    assert server.state.counts["http"] == 4


async def test_failover_to_the_next_provider(server: MockLLMServer) -> None:
    async with serve_mock_llm() as backup:
        server.state.fail_next.extend([503, 503])
        primary = provider(server.url, name="primary", retry=RetryPolicy(max_retries=1))
        secondary = provider(backup.url, name="secondary")
        async with make_pool(primary, secondary) as pool:
            response = await pool.chat(ask("x"))
            stats = pool.stats()["providers"]
    assert response.provider == "secondary"
    assert stats["primary"]["failovers"] == 1
    assert stats["primary"]["retries"] == 1
    assert backup.state.counts["chat"] == 1


async def test_failover_skips_an_open_circuit_and_not_bad_requests(server: MockLLMServer) -> None:
    async with serve_mock_llm() as backup:
        breaker = BreakerConfig(failure_threshold=1, reset_timeout_s=60)
        primary = provider(
            server.url, name="primary", breaker=breaker, retry=RetryPolicy(max_retries=0)
        )
        async with make_pool(primary, provider(backup.url, name="secondary")) as pool:
            server.state.fail_next.append(503)
            assert (await pool.chat(ask("a"))).provider == "secondary"  # failed over
            assert (await pool.chat(ask("b"))).provider == "secondary"  # circuit open
            assert server.state.counts["http"] == 1
            backup.state.fail_next.append(400)
            with pytest.raises(Exception, match="HTTP 400"):
                await pool.chat(ask("c"))


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("invalid_json", "not valid JSON"),
        ("missing_fields", "missing required field `choices`"),
        ("unknown_finish", "unknown finish reason 'banana'"),
    ],
)
async def test_malformed_responses_over_http(
    server: MockLLMServer, fault: str, problem: str
) -> None:
    config = provider(server.url, name="local-vllm", headers={"x-mock-fault": fault})
    async with make_pool(config) as pool:
        with pytest.raises(MalformedResponse) as info:
            await pool.chat(ask("x"))
    assert info.value.provider == "local-vllm"
    assert problem in str(info.value)
    assert server.state.counts["http"] == 1  # not retried


async def drain(pool: LLMPool, request: ChatRequest, **kwargs: Any) -> None:
    async with pool.stream(request, **kwargs) as stream:
        async for _ in stream:
            pass


async def test_truncated_stream_over_http(server: MockLLMServer) -> None:
    config = provider(server.url, name="local", headers={"x-mock-fault": "truncated_sse"})
    async with make_pool(config) as pool:
        with pytest.raises(MalformedResponse, match="'local'"):
            await drain(pool, ask("[[words:3]]"))
        stats = pool.stats()["providers"]["local"]
    assert stats["errors"] == {"MalformedResponse": 1}
    assert stats["queue"]["active"] == 0


async def test_deadline_while_waiting_for_the_answer(server: MockLLMServer) -> None:
    server.state.fail_next.append("hang")
    async with make_pool(provider(server.url)) as pool:
        loop = asyncio.get_running_loop()
        with pytest.raises(DeadlineExceeded) as info:
            await pool.chat(ask("x"), deadline=loop.time() + 0.1)
        assert isinstance(info.value, TimeoutError)
        stats = pool.stats()["providers"]["mock"]
        assert stats["errors"] == {"DeadlineExceeded": 1}
        assert stats["retries"] == 0


async def test_request_past_its_deadline_is_not_sent(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url)) as pool:
        loop = asyncio.get_running_loop()
        with pytest.raises(DeadlineExceeded):
            await pool.chat(ask("x"), deadline=loop.time() - 0.001)
        with pytest.raises(DeadlineExceeded):
            await drain(pool, ask("x"), deadline=loop.time() - 0.001)
    assert server.state.counts["http"] == 0


async def test_per_attempt_timeout_is_retried(server: MockLLMServer) -> None:
    server.state.fail_next.append("hang")
    # the hang times out; the retry must not: 1.5 s is far beyond a loaded loopback call
    async with make_pool(provider(server.url, timeout_s=1.5)) as pool:
        response = await pool.chat(ask("x"))
        stats = pool.stats()["providers"]["mock"]
    assert response.content == "echo: x"
    assert stats["errors"] == {"ProviderTimeout": 1}
    assert stats["retries"] == 1


async def test_cancelled_caller_frees_its_slot_at_once(server: MockLLMServer) -> None:
    server.state.fail_next.append("hang")
    async with make_pool(provider(server.url, max_concurrency=1)) as pool:
        hung = asyncio.create_task(pool.chat(ask("hung")))
        while not server.state.counts["fault_hang"]:
            await asyncio.sleep(0.005)
        view = pool.stats()["providers"]["mock"]
        assert view["queue"]["active"] == 1
        hung.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hung
        view = pool.stats()["providers"]["mock"]
        assert view["queue"]["active"] == 0
        assert view["backend"]["replicas"][server.url]["outstanding"] == 0
        assert (await pool.chat(ask("next"))).content == "echo: next"


async def test_close_leaves_no_tasks_and_no_connections(server: MockLLMServer) -> None:
    before = asyncio.all_tasks()
    pool = make_pool(provider(server.url))
    await asyncio.gather(*(pool.chat(ask(f"q{i}")) for i in range(20)))
    await asyncio.gather(*(pool.embed([f"t{i}"], model="mock-embed") for i in range(5)))
    async with pool.stream(ask("[[words:2]]")) as stream:
        async for _ in stream:
            pass
    backend = pool.backend("mock")
    assert isinstance(backend, HTTPBackend)
    assert server.state.open_connections > 0
    await pool.aclose()
    assert backend.stats()["replicas"][server.url]["connections"] == {
        "active": 0,
        "idle": 0,
        "stale_retries": 0,
    }
    ours = {t for t in asyncio.all_tasks() - before if "RequestHandler" not in repr(t)}
    assert ours == set()
    await eventually(lambda: not server.state.open_connections, what="connections closed")
    with pytest.raises(PoolClosed):
        await pool.chat(ask("x"))
    await pool.aclose()  # idempotent


async def test_closing_the_pool_fails_requests_in_flight_with_pool_closed(
    server: MockLLMServer,
) -> None:
    server.state.fail_next.append("hang")
    pool = make_pool(provider(server.url))
    in_flight = asyncio.create_task(pool.chat(ask("x")))
    while not server.state.counts["fault_hang"]:
        await asyncio.sleep(0.005)
    await pool.aclose()
    with pytest.raises(PoolClosed):
        await in_flight
    assert server.state.counts["http"] == 1  # not retried after the close
