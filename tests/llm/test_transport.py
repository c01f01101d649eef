"""The aiohttp-backed httpx transport, and the pool over other httpx transports."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx
import pytest

from agentrt.errors import InvalidArgument
from agentrt.llm import (
    AiohttpTransport,
    HTTPBackend,
    LLMPool,
    MockLLMServer,
    MockServerConfig,
    PoolConfig,
    ProviderUnavailable,
    serve_mock_llm,
)
from agentrt.llm._transport import create_client, read_response

from .conftest import ask, provider

CHAT = {"model": "mock", "messages": [{"role": "user", "content": "[[words:30]]"}]}


@pytest.mark.parametrize("kind", ["aiohttp", "httpx"])
async def test_client_over_either_transport(server: MockLLMServer, kind: str) -> None:
    async with create_client(kind, max_connections=4) as client:  # type: ignore[arg-type]
        r = await client.post(server.url + "/chat/completions", json=CHAT)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["choices"][0]["message"]["content"].startswith("w1 w2")
        r = await client.get(server.url + "/models")
        assert r.json()["object"] == "list"
        async with client.stream(
            "POST", server.url + "/chat/completions", json={**CHAT, "stream": True}
        ) as streamed:
            pieces = [piece async for piece in streamed.aiter_bytes()]
        assert b"".join(pieces).endswith(b"data: [DONE]\n\n")


async def test_aiohttp_transport_streams_and_closes_abandoned_responses() -> None:
    # the abandoned stream is paced (a "mock-slow" event every 50 ms), so it is still
    # mid-body when abandoned however late this test reads: an instant stream can arrive
    # whole before the first read on a loaded machine, and a whole body is rightly reused
    slow = MockServerConfig(profiles={"mock-slow": {"per_token_ms": 50}})
    async with serve_mock_llm(slow) as server:
        await _abandon_then_reuse(server)


async def _abandon_then_reuse(server: MockLLMServer) -> None:
    transport = AiohttpTransport(max_connections=2)
    client = httpx.AsyncClient(transport=transport)
    body = {**CHAT, "model": "mock-slow", "stream": True}
    async with client.stream("POST", server.url + "/chat/completions", json=body) as r:
        async for _ in r.aiter_bytes():
            break  # abandoned mid-body: the connection must not be reused
    assert transport.stats() == {"active": 0, "idle": 0, "stale_retries": 0}
    r = await client.post(server.url + "/chat/completions", json=CHAT)
    assert json.loads(r.content)["object"] == "chat.completion"
    assert transport.stats() == {
        "active": 0,
        "idle": 1,
        "stale_retries": 0,
    }  # a fully read one is kept
    status, headers, data = await transport.send_bytes(
        "POST",
        server.url + "/chat/completions",
        [("content-type", "application/json")],
        json.dumps(CHAT).encode(),
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(data)["object"] == "chat.completion"
    await client.aclose()
    assert transport.stats() == {"active": 0, "idle": 0, "stale_retries": 0}
    with pytest.raises(RuntimeError, match="closed"):
        await client.post(server.url + "/chat/completions", json=CHAT)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connect_errors_map_to_httpx_then_to_provider_unavailable() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    async with create_client("aiohttp") as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url + "/models")
    async with LLMPool(PoolConfig(providers=(provider(url, name="down"),))) as pool:
        with pytest.raises(
            ProviderUnavailable, match=r"'down' model 'mock' at http:.*: cannot connect"
        ):
            await pool.chat(ask("x"))
        assert pool.stats()["providers"]["down"]["retries"] == 3


async def test_server_dropping_the_connection_is_a_protocol_error() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with create_client("aiohttp") as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"http://127.0.0.1:{port}/")
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("kind", ["httpx"])
async def test_pool_over_httpx_own_transport(server: MockLLMServer, kind: str) -> None:
    config = provider(server.url, transport=kind)
    async with LLMPool(PoolConfig(providers=(config,))) as pool:
        assert (await pool.chat(ask("hi"))).content == "echo: hi"
        async with pool.stream(ask("[[words:2]]")) as stream:
            assert [c.delta async for c in stream][:2] == ["w1", " w2"]
        vectors = await pool.embed(["a"], model="mock-embed")
        assert len(vectors.vectors[0]) == 8
        server.state.fail_next.append(503)  # error answers over httpcore are mapped too
        assert (await pool.chat(ask("again"))).content == "echo: again"
        assert pool.stats()["providers"]["mock"]["errors"] == {"ProviderUnavailable": 1}


async def test_pool_over_an_injected_httpx_transport() -> None:
    """Any httpx transport plugs in, e.g. httpx.MockTransport (the response here is canned)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"choices": [{"message": {"content": "canned"}, "finish_reason": "stop"}]}
        return httpx.Response(200, json=body)

    config = provider("http://llm.invalid/v1", name="canned", api_key_env="K")
    backend = HTTPBackend(config, api_key="sk-123", transports=[httpx.MockTransport(handler)])
    async with LLMPool(PoolConfig(providers=(config,)), backends={"canned": backend}) as pool:
        response = await pool.chat(ask("x"))
    assert response.content == "canned"
    assert seen[0].url == "http://llm.invalid/v1/chat/completions"
    assert seen[0].headers["authorization"] == "Bearer sk-123"
    assert seen[0].headers["host"] == "llm.invalid"
    assert int(seen[0].headers["content-length"]) == len(seen[0].content)
    assert json.loads(seen[0].content)["messages"] == [{"role": "user", "content": "x"}]


async def test_read_response_over_a_plain_httpx_response() -> None:
    response = httpx.Response(200, content=b"abc")
    assert await read_response(response) == b"abc"


async def test_a_users_transport_with_send_bytes_takes_the_byte_path(
    server: MockLLMServer,
) -> None:
    """Not only AiohttpTransport: any transport with ``send_bytes`` gets the fast path."""

    class Counting(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = AiohttpTransport(max_connections=4)
            self.byte_calls = 0
            self.httpx_calls = 0

        async def send_bytes(self, *args: Any, **kwargs: Any) -> Any:
            self.byte_calls += 1
            return await self.inner.send_bytes(*args, **kwargs)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.httpx_calls += 1
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    mine = Counting()
    config = provider(server.url)
    backend = HTTPBackend(config, transports=[mine])
    async with LLMPool(PoolConfig(providers=(config,)), backends={"mock": backend}) as pool:
        assert (await pool.chat(ask("hi"))).content == "echo: hi"
        async with pool.stream(ask("[[words:2]]")) as stream:  # no open_bytes: httpx objects
            assert [c.delta async for c in stream][:2] == ["w1", " w2"]
    assert mine.byte_calls == 1
    assert mine.httpx_calls == 1


def test_one_transport_per_base_url() -> None:
    config = provider(["http://a.invalid/v1", "http://b.invalid/v1"], name="two")
    with pytest.raises(InvalidArgument, match="one transport per base URL") as info:
        HTTPBackend(config, transports=[httpx.MockTransport(lambda r: httpx.Response(200))])
    assert info.value.name == "transports"


class _OneRead:
    """An opened answer whose whole body arrives in one read."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.reads = 0

    @property
    def status(self) -> int:
        return int(self.answer.status)

    @property
    def headers(self) -> Any:
        return self.answer.headers

    async def chunks(self) -> Any:
        body = b"".join([piece async for piece in self.answer.chunks()])
        self.reads += 1
        yield body

    async def read(self, limit: int = 0) -> bytes:
        return bytes(await self.answer.read(limit))

    async def aclose(self) -> None:
        await self.answer.aclose()


async def test_streams_take_the_byte_path_and_hand_out_a_reads_chunks_one_by_one(
    server: MockLLMServer,
) -> None:
    """A transport with ``open_bytes`` serves streams without httpx objects; the chunks
    decoded from one read of the body are handed out one at a time, in order."""

    class Opening(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self.inner = AiohttpTransport(max_connections=4)
            self.answers: list[_OneRead] = []
            self.httpx_calls = 0

        async def send_bytes(self, *args: Any, **kwargs: Any) -> Any:
            return await self.inner.send_bytes(*args, **kwargs)

        async def open_bytes(self, *args: Any, **kwargs: Any) -> Any:
            self.answers.append(_OneRead(await self.inner.open_bytes(*args, **kwargs)))
            return self.answers[-1]

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            self.httpx_calls += 1
            return await self.inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self.inner.aclose()

    mine = Opening()
    config = provider(server.url)
    backend = HTTPBackend(config, transports=[mine])
    async with LLMPool(PoolConfig(providers=(config,)), backends={"mock": backend}) as pool:
        async with pool.stream(ask("[[words:5]]")) as stream:
            deltas = [c.delta async for c in stream]
        assert stream.response is not None
    assert deltas[:5] == ["w1", " w2", " w3", " w4", " w5"]
    assert stream.response.content == "w1 w2 w3 w4 w5"
    assert [answer.reads for answer in mine.answers] == [1]  # one read, many chunks
    assert mine.httpx_calls == 0
