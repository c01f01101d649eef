"""Content parts (text and images, issue 14 §4) over real HTTP against the mock server, in
both dialects: what goes on the wire, what the server understood, what comes back."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from agentrt.llm import (
    BadRequest,
    ChatRequest,
    LLMPool,
    MockLLMServer,
    PoolConfig,
    ProviderConfig,
    ToolSpec,
)
from agentrt.llm._tokens import estimate_request_tokens
from agentrt.messages import ImagePart, Message, TextPart
from agentrt.tokens import IMAGE_TOKENS, content_tokens, estimate_tokens, message_tokens

from .conftest import provider
from .test_pool_http import custom_server

PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
    "DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)
PARTS = (
    TextPart("What is in these?"),
    ImagePart("https://img.test/cat.png", detail="low"),
    ImagePart(PNG),
)


def _request(model: str = "mock", **kwargs: Any) -> ChatRequest:
    messages = (Message.system("Look closely."), Message.user(PARTS))
    return ChatRequest(model=model, messages=messages, **kwargs)


def _anthropic(server: MockLLMServer) -> ProviderConfig:
    return provider(server.url, name="claude", kind="anthropic")


async def test_openai_parts_on_the_wire_and_understood(server: MockLLMServer) -> None:
    async with LLMPool(PoolConfig(providers=(provider(server.url),))) as pool:
        reply = await pool.chat(_request())
        async with pool.stream(_request()) as stream:
            streamed = "".join([c.delta async for c in stream])
    sent = server.state.requests_seen[0]["messages"]
    assert sent[0] == {"role": "system", "content": "Look closely."}
    assert sent[1]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "https://img.test/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "auto"}},
    ]
    assert reply.content == "echo: What is in these?\n[image low]\n[image auto]"
    assert streamed == reply.content
    # the server counted the images by IMAGE_TOKENS, not by the data URL's length
    assert reply.usage.input_tokens == 4 + 4 + estimate_tokens("Look closely.") + (
        estimate_tokens("What is in these?") + IMAGE_TOKENS["low"] + IMAGE_TOKENS["auto"]
    )


async def test_anthropic_parts_on_the_wire_and_understood(server: MockLLMServer) -> None:
    async with LLMPool(PoolConfig(providers=(_anthropic(server),))) as pool:
        reply = await pool.chat(_request(max_tokens=64))
        async with pool.stream(_request(max_tokens=64)) as stream:
            streamed = "".join([c.delta async for c in stream])
    assert server.state.counts["anthropic"] == 2
    sent = server.state.requests_seen[0]
    assert sent["system"] == "Look closely."
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "url", "url": "https://img.test/cat.png"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG.split(",")[1]},
        },
    ]
    assert reply.content == "echo: What is in these?\n[image url]\n[image base64]"
    assert reply.finish_reason == "stop"
    assert streamed == reply.content


async def test_anthropic_dialect_tool_use_and_tool_results(server: MockLLMServer) -> None:
    """The mock's /v1/messages plays tools as /v1/chat/completions does, streamed too."""
    tools = (ToolSpec(name="lookup"),)
    ask = Message.user('[[tool:lookup {"q": "x"}]]')
    async with LLMPool(PoolConfig(providers=(_anthropic(server),))) as pool:
        first = await pool.chat(ChatRequest(model="m", messages=(ask,), tools=tools))
        async with pool.stream(ChatRequest(model="m", messages=(ask,), tools=tools)) as stream:
            chunks = [c async for c in stream]
        result = Message.tool_result(first.tool_calls[0].id, "42")
        history = (ask, first.message, result)
        second = await pool.chat(ChatRequest(model="m", messages=history, tools=tools))
    assert first.finish_reason == "tool_calls"
    assert json.loads(first.tool_calls[0].arguments) == {"q": "x"}
    streamed = chunks[-1].tool_calls
    assert [(c.id, c.name) for c in streamed] == [(c.id, c.name) for c in first.tool_calls]
    assert json.loads(streamed[0].arguments) == {"q": "x"}  # assembled from input_json_delta
    assert second.content == "tool result: 42"


@pytest.mark.parametrize(
    ("path", "content", "param"),
    [
        (
            "chat/completions",
            [{"type": "image_url", "image_url": {"url": "ftp://x.test/a.png"}}],
            "messages[0].content[0].image_url.url",
        ),
        (
            "chat/completions",
            [{"type": "image_url", "image_url": {"url": PNG, "detail": "huge"}}],
            "messages[0].content[0].image_url.detail",
        ),
        ("chat/completions", [{"type": "audio"}], "messages[0].content[0].type"),
        ("chat/completions", [{"type": "text"}], "messages[0].content[0].text"),
        (
            "messages",
            [{"type": "image", "source": {"type": "url", "url": "file:///etc/passwd"}}],
            "messages[0].content[0].source.url",
        ),
        (
            "messages",
            [{"type": "image", "source": {"type": "base64", "media_type": "image/png"}}],
            "messages[0].content[0].source.data",
        ),
        ("messages", [{"type": "video"}], "messages[0].content[0].type"),
    ],
)
async def test_the_mock_refuses_malformed_parts_naming_the_field(
    server: MockLLMServer, path: str, content: Any, param: str
) -> None:
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": content}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{server.url}/{path}", json=body) as response,
    ):
        answer = await response.json()
    assert response.status == 400
    assert answer["error"]["message"].startswith(f"{param}: ")
    assert server.state.counts["chat"] == 0


async def test_a_refused_part_reaches_the_caller_as_bad_request(server: MockLLMServer) -> None:
    """Parts built past the checks (msgspec does not check at construction) are refused by
    the server, and the caller sees the server's words."""
    bad = ChatRequest(model="m", messages=(Message.user((ImagePart("gopher://x.test/a"),)),))
    async with LLMPool(PoolConfig(providers=(provider(server.url),))) as pool:
        with pytest.raises(BadRequest, match=r"content\[0\]\.image_url\.url"):
            await pool.chat(bad)


async def test_a_reply_whose_content_is_an_array_of_parts_is_read_as_text() -> None:
    """Some OpenAI-compatible servers answer with content parts, also in stream deltas."""
    parts = [{"type": "text", "text": "two "}, {"type": "text", "text": "parts"}]

    async def handler(request: web.Request) -> web.StreamResponse:
        if (await request.json()).get("stream"):
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            delta = {"choices": [{"delta": {"content": parts}, "finish_reason": "stop"}]}
            await response.write(f"data: {json.dumps(delta)}\n\ndata: [DONE]\n\n".encode())
            return response
        choice = {"message": {"role": "assistant", "content": parts}, "finish_reason": "stop"}
        return web.json_response({"id": "x", "model": "m", "choices": [choice]})

    route = web.post("/v1/chat/completions", handler)
    async with (
        custom_server([route]) as url,
        LLMPool(PoolConfig(providers=(provider(url),))) as pool,
    ):
        reply = await pool.chat(_request())
        async with pool.stream(_request()) as stream:
            streamed = "".join([c.delta async for c in stream])
    assert reply.content == streamed == "two parts"


def test_images_are_estimated_by_detail_and_never_by_url_length() -> None:
    huge = ImagePart("data:image/png;base64," + "A" * 400_000, detail="high")
    assert content_tokens((TextPart("abcd"), huge)) == 1 + IMAGE_TOKENS["high"]
    assert content_tokens((ImagePart("https://x.test/a.png", "low"),)) == 85
    message = Message.user((TextPart("abcd"), huge))
    assert message_tokens(message) == 4 + 1 + 765
    assert message_tokens(message, lambda text: 100) == 4 + 100 + 765  # pluggable for text
    request = ChatRequest(model="m", messages=(message,), max_tokens=10)
    assert estimate_request_tokens(request) == 4 + 1 + 765 + 10
