"""What comes back from servers, over real HTTP against the mock (issue 13 §6, issue 14
§3): size limits, usage validation, error objects in 200 answers, JSON answers to stream
requests, context-length errors in every server's dialect, errors that name everything."""

from __future__ import annotations

import asyncio

import pytest

from agentrt.llm import (
    AuthenticationError,
    ChatRequest,
    ContextLengthExceeded,
    LLMPool,
    MalformedResponse,
    MockLLMServer,
    MockServerConfig,
    PoolConfig,
    ProviderUnavailable,
    ResponseTooLarge,
    RetryPolicy,
    serve_mock_llm,
)
from agentrt.llm._mockfaults import DIALECTS, ErrorDialect
from agentrt.llm.providers._base import CONTEXT_LENGTH_SIGNS
from agentrt.messages import Message

from .conftest import ask, make_pool, provider

NO_RETRY = RetryPolicy(max_retries=0)


async def drain(pool: LLMPool, request: ChatRequest) -> None:
    """Read a whole stream (the errors it raises propagate)."""
    async with pool.stream(request) as stream:
        async for _ in stream:
            pass


async def answer(pool: LLMPool, request: ChatRequest, stream: bool) -> None:
    if stream:
        await drain(pool, request)
    else:
        await pool.chat(request)


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
async def test_an_oversized_chat_body_is_refused(server: MockLLMServer, transport: str) -> None:
    config = provider(server.url, max_response_bytes=20_000, transport=transport)
    async with make_pool(config) as pool:
        with pytest.raises(ResponseTooLarge) as info:
            await pool.chat(ask("[[words:10000]]"))
        small = await pool.chat(ask("[[words:10]]"))  # the pool goes on working
    error = info.value
    assert error.limit == 20_000
    assert "max_response_bytes=20000" in str(error)
    assert "model 'mock'" in str(error)
    assert server.url in str(error)
    assert small.content.startswith("w1 w2")


async def test_an_oversized_stream_and_an_oversized_event_are_refused(
    server: MockLLMServer,
) -> None:
    total = provider(server.url, max_response_bytes=20_000)
    async with make_pool(total) as pool:
        with pytest.raises(ResponseTooLarge, match="max_response_bytes=20000"):
            await drain(pool, ask("[[words:10000]]"))
    event = provider(server.url, max_event_bytes=1_000)
    async with make_pool(event) as pool:
        with pytest.raises(ResponseTooLarge, match="max_event_bytes=1000") as info:
            await drain(pool, ask("[[reply:" + "x" * 5_000 + "]]"))
        assert (await pool.chat(ask("[[reply:" + "x" * 5_000 + "]]"))).content == "x" * 5_000
    assert "model 'mock'" in str(info.value)


@pytest.mark.parametrize("stream", [False, True])
async def test_negative_usage_is_malformed(server: MockLLMServer, stream: bool) -> None:
    async with make_pool(provider(server.url, retry=NO_RETRY)) as pool:
        server.state.fail_next.append("bad_usage")
        with pytest.raises(MalformedResponse, match="usage"):
            await answer(pool, ask("x"), stream)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_200_carrying_an_error_object_surfaces_the_server_message(
    server: MockLLMServer, stream: bool
) -> None:
    async with make_pool(provider(server.url, retry=NO_RETRY)) as pool:
        server.state.fail_next.append("error_200")
        with pytest.raises(ProviderUnavailable, match="upstream model crashed") as info:
            await answer(pool, ask("x"), stream)
    assert info.value.status == 200
    assert "missing field" not in str(info.value)


async def test_a_json_answer_to_a_stream_request_is_accepted(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url)) as pool:
        server.state.fail_next.append("json_stream")
        async with pool.stream(ask("[[words:3]]")) as stream:
            chunks = [c async for c in stream]
    assert "".join(c.delta for c in chunks) == "w1 w2 w3"
    assert chunks[-1].finish_reason == "stop"
    assert stream.response is not None
    assert stream.response.usage.output_tokens > 0


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_context_length_errors_in_every_dialect(dialect: ErrorDialect) -> None:
    config = MockServerConfig(context_window=50, error_dialect=dialect)
    async with serve_mock_llm(config) as server, make_pool(provider(server.url)) as pool:
        assert (await pool.chat(ask("short"))).content == "echo: short"
        with pytest.raises(ContextLengthExceeded) as info:
            await pool.chat(ask("long " * 200))
    error = info.value
    assert error.status == 400
    assert error.model == "mock"
    assert error.url == server.url
    assert server.state.counts["http"] == 2  # never retried
    text = str(error).lower()
    assert any(needle in text for _, field, needle in CONTEXT_LENGTH_SIGNS if field == "message")


async def test_errors_name_provider_model_url_status_and_message_never_the_key(
    server: MockLLMServer,
) -> None:
    config = provider(server.url, api_key_env="MOCK_KEY", retry=NO_RETRY)
    env = {"MOCK_KEY": "sk-very-secret"}
    async with LLMPool(PoolConfig(providers=(config,)), env=env) as pool:
        errors: list[BaseException] = []
        for fault in (401, 503, "invalid_json"):
            server.state.fail_next.append(fault)
            with pytest.raises(Exception) as info:
                await pool.chat(ask("x"), deadline=asyncio.get_running_loop().time() + 5)
            errors.append(info.value)
    assert isinstance(errors[0], AuthenticationError)
    for error, status in zip(errors, ("HTTP 401", "HTTP 503", None), strict=True):
        text = str(error)
        assert "provider 'mock'" in text
        assert "model 'mock'" in text
        assert server.url in text
        assert status is None or status in text
        assert "sk-very-secret" not in text + repr(error)
    assert "mock error 401" in str(errors[0])


async def test_cached_and_reasoning_tokens_are_reported(server: MockLLMServer) -> None:
    detailed = MockServerConfig(usage_details=True)
    async with serve_mock_llm(detailed) as mock, make_pool(provider(mock.url)) as pool:
        reply = await pool.chat(ChatRequest(model="mock", messages=(Message.user("q " * 40),)))
        async with pool.stream(ask("[[words:40]]")) as stream:
            async for _ in stream:
                pass
    usage = reply.usage
    assert 0 < usage.cache_read_tokens <= usage.input_tokens
    assert 0 < usage.reasoning_tokens <= usage.output_tokens
    assert stream.response is not None
    assert stream.response.usage.reasoning_tokens > 0
