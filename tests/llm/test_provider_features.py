"""Provider features of today's APIs (issue 14 §4), over real HTTP: OpenAI's
max_completion_tokens, structured outputs, parallel_tool_calls, extra_body, cached and
reasoning tokens in cost and stats; Anthropic prompt caching and streamed tool use; a
pluggable token estimator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agentrt.llm import (
    ChatRequest,
    InvalidRequest,
    JsonSchemaFormat,
    LLMPool,
    MalformedResponse,
    MockLLMServer,
    MockServerConfig,
    PoolConfig,
    ProviderConfig,
    ToolSpec,
    serve_mock_llm,
)
from agentrt.messages import Message

from .conftest import ask, make_pool, provider
from .test_pool_http import custom_server

FIXTURES = Path(__file__).parent / "fixtures"
CITY = JsonSchemaFormat(
    name="city",
    schema={
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
        "required": ["city", "temp_c"],
        "additionalProperties": False,
    },
)


def chat(model: str, text: str = "hi", **kwargs: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=(Message.user(text),), **kwargs)


async def test_openai_request_fields(server: MockLLMServer) -> None:
    async with make_pool(provider(server.url)) as pool:
        for model in ("o3-mini", "gpt-5-mini", "openai/o1", "gpt-4o"):
            await pool.chat(chat(model, max_tokens=64))
        await pool.chat(
            chat(
                "gpt-4o",
                tools=(ToolSpec(name="weather"),),
                parallel_tool_calls=False,
                extra_body={"metadata": {"team": "a"}, "top_k": 5},
            )
        )
    seen = list(server.state.requests_seen)
    for body in seen[:3]:
        assert body["max_completion_tokens"] == 64
        assert "max_tokens" not in body
    assert seen[3]["max_tokens"] == 64
    assert "max_completion_tokens" not in seen[3]
    assert seen[4]["parallel_tool_calls"] is False
    assert seen[4]["metadata"] == {"team": "a"}
    assert seen[4]["top_k"] == 5


async def test_structured_output_is_validated_into_the_reply(server: MockLLMServer) -> None:
    good = '[[reply:{"city": "Oslo", "temp_c": 4.5}]]'
    async with make_pool(provider(server.url)) as pool:
        reply = await pool.chat(chat("mock", good, response_format=CITY))
        async with pool.stream(chat("mock", good, response_format=CITY)) as stream:
            async for _ in stream:
                pass
        with pytest.raises(MalformedResponse, match="does not match response_format 'city'"):
            await pool.chat(chat("mock", '[[reply:{"city": "Oslo"}]]', response_format=CITY))
        with pytest.raises(MalformedResponse, match="is not JSON"):
            await pool.chat(chat("mock", "[[reply:sunny]]", response_format=CITY))
        sent = server.state.counts["http"]
        bad_schema = JsonSchemaFormat(schema={"type": "no-such-type"})
        with pytest.raises(InvalidRequest, match=r"response_format\.schema"):
            await pool.chat(chat("mock", good, response_format=bad_schema))
        assert server.state.counts["http"] == sent  # refused before sending
    assert reply.parsed == {"city": "Oslo", "temp_c": 4.5}
    assert stream.response is not None
    assert stream.response.parsed == {"city": "Oslo", "temp_c": 4.5}
    body = server.state.requests_seen[0]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "city"
    assert body["response_format"]["json_schema"]["strict"] is True


async def test_cached_and_reasoning_tokens_are_priced_and_counted() -> None:
    async with serve_mock_llm(MockServerConfig(usage_details=True)) as server:
        config = provider(
            server.url,
            price_in_per_1k=1.0,
            price_cached_in_per_1k=0.1,
            price_out_per_1k=2.0,
        )
        async with make_pool(config) as pool:
            reply = await pool.chat(chat("mock", "q " * 40))
            stats = pool.stats()["providers"]["mock"]
    usage = reply.usage
    assert usage.cache_read_tokens > 0
    assert usage.reasoning_tokens > 0
    expected = (
        (usage.input_tokens - usage.cache_read_tokens) * 1.0
        + usage.cache_read_tokens * 0.1
        + usage.output_tokens * 2.0
    ) / 1000
    assert reply.cost == pytest.approx(expected)
    assert stats["cache_read_tokens"] == usage.cache_read_tokens
    assert stats["reasoning_tokens"] == usage.reasoning_tokens


async def test_anthropic_prompt_caching_and_cache_tokens() -> None:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(await request.json())
        body = json.loads((FIXTURES / "anthropic_message.json").read_text())
        body["usage"] = {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 1000,
        }
        return web.json_response(body)

    async with custom_server([web.post("/v1/messages", handler)]) as url:
        config = ProviderConfig(
            name="claude",
            kind="anthropic",
            base_urls=(url,),
            price_in_per_1k=3.0,
            price_cached_in_per_1k=0.3,
            price_cache_write_per_1k=3.75,
            price_out_per_1k=15.0,
        )
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            request = ChatRequest(
                model="claude-x",
                messages=(Message.system("long instructions"), Message.user("hi")),
                tools=(ToolSpec(name="weather"),),
                cache_prompt=True,
            )
            reply = await pool.chat(request)
    body = seen[0]
    ephemeral = {"type": "ephemeral"}
    assert body["system"][0]["cache_control"] == ephemeral
    assert body["tools"][-1]["cache_control"] == ephemeral
    assert body["messages"][-1]["content"][-1]["cache_control"] == ephemeral
    usage = reply.usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (
        1110,
        1000,
        100,
    )
    assert reply.cost == pytest.approx((10 * 3.0 + 1000 * 0.3 + 100 * 3.75 + 5 * 15.0) / 1000)


async def test_anthropic_streamed_tool_use_over_http() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=(FIXTURES / "anthropic_stream.sse").read_bytes(),
            content_type="text/event-stream",
        )

    async with custom_server([web.post("/v1/messages", handler)]) as url:
        config = ProviderConfig(name="claude", kind="anthropic", base_urls=(url,))
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            request = chat("claude-x", tools=(ToolSpec(name="get_weather"),))
            async with pool.stream(request) as stream:
                chunks = [c async for c in stream]
    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert final.tool_calls
    assert json.loads(final.tool_calls[0].arguments)  # assembled from input_json_delta
    assert stream.response is not None
    assert stream.response.tool_calls == final.tool_calls


async def test_the_token_estimator_is_pluggable(server: MockLLMServer) -> None:
    """What a request takes from the tpm bucket while in flight (before reconciling).
    The bucket refills at 100 tokens/s, so the custom estimate stays visible for over
    10 s however slow the machine is."""
    loop = asyncio.get_running_loop()
    taken = []
    for kwargs in ({}, {"estimator": lambda text: 1000}):
        config = PoolConfig(providers=(provider(server.url, tpm=6_000),))
        async with LLMPool(config, **kwargs) as pool:  # type: ignore[arg-type]
            hung = server.state.counts["fault_hang"]
            server.state.fail_next.append("hang")
            task = asyncio.create_task(pool.chat(ask("x"), deadline=loop.time() + 60))
            while server.state.counts["fault_hang"] == hung:  # the request is in flight
                await asyncio.sleep(0.01)
            limits = pool.stats()["providers"]["mock"]["rate_limit"]
            taken.append(6_000 - limits["tokens_available"])
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    default, custom = taken
    assert default < 400  # about chars/4 of "x", framing, and 256 for the completion
    assert custom > 1000  # the custom estimator counted 1000 for the text


async def test_anthropic_prompt_caching_over_the_mock() -> None:
    """The mock's /v1/messages: cache_control breakpoints arrive, cache reads and writes
    come back (JSON and stream) and are added to the input tokens."""
    async with serve_mock_llm(MockServerConfig(usage_details=True)) as server:
        config = ProviderConfig(name="claude", kind="anthropic", base_urls=(server.url,))
        messages = (Message.system("Be brief. " * 40), Message.user("hello " * 40))
        request = ChatRequest(
            model="claude-x", messages=messages, tools=(ToolSpec(name="t"),), cache_prompt=True
        )
        async with LLMPool(PoolConfig(providers=(config,))) as pool:
            reply = await pool.chat(request)
            async with pool.stream(request) as stream:
                final = [c async for c in stream][-1]
            stats = pool.stats()["providers"]["claude"]
    sent = server.state.requests_seen[0]
    assert sent["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    for usage in (reply.usage, final.usage):
        assert usage is not None
        assert usage.cache_read_tokens == usage.input_tokens // 2 > 0
        assert usage.cache_write_tokens == usage.input_tokens // 4 > 0
    assert stats["cache_read_tokens"] == 2 * reply.usage.cache_read_tokens
    assert stats["cache_write_tokens"] == 2 * reply.usage.cache_write_tokens
