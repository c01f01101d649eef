"""The clients ``loadtest.bench.llm_pool`` measures, each written the way its users would.

A factory takes the mock's base URL and the concurrency C and returns ``(one, close)``:
``one(i)`` sends chat completion ``i`` and checks the answer, ``close()`` frees the client.
Two modes:

- ``json``: one non-streamed completion, the whole body parsed;
- ``stream``: a streamed completion (``stream_options.include_usage``, as agentrt asks),
  every SSE event's JSON parsed and the text deltas joined, as a consumer of the stream
  would.

Clients: ``agentrt`` (``LLMPool.chat`` / ``LLMPool.stream``, max_concurrency = C),
``httpx`` (``AsyncClient``, Limits raised to C), ``aiohttp`` (``ClientSession``, connector
limit C) and ``openai`` (``AsyncOpenAI``, connection limits raised to C, no retries).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

__all__ = ["FACTORIES", "MODES"]

One = Callable[[int], Awaitable[None]]
Client = tuple[One, Callable[[], Awaitable[Any]]]
MODES = ("json", "stream")


def _body(i: int, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "mock",
        "messages": [{"role": "user", "content": f"hello {i}"}],
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _sse_text(events: list[bytes]) -> str:
    """The text deltas of SSE ``data:`` lines (``[DONE]`` ends them)."""
    parts: list[str] = []
    for line in events:
        if not line.startswith(b"data: "):
            continue
        data = line[6:].strip()
        if data == b"[DONE]":
            break
        choices = json.loads(data)["choices"]
        if choices and (delta := choices[0]["delta"].get("content")):
            parts.append(delta)
    return "".join(parts)


async def _client_agentrt(url: str, c: int, mode: str) -> Client:
    from agentrt.llm import ChatRequest, LLMPool, PoolConfig, ProviderConfig, RetryPolicy
    from agentrt.messages import Message

    provider = ProviderConfig(
        name="mock",
        base_urls=(url,),
        max_concurrency=c,
        max_queue=max(1024, 4 * c),
        retry=RetryPolicy(max_retries=0),
    )
    pool = LLMPool(PoolConfig(providers=(provider,)))

    async def chat(i: int) -> None:
        request = ChatRequest(model="mock", messages=(Message.user(f"hello {i}"),))
        response = await pool.chat(request, agent_id=f"agent-{i % 1000}")
        assert response.content

    async def stream(i: int) -> None:
        request = ChatRequest(model="mock", messages=(Message.user(f"hello {i}"),))
        async with pool.stream(request, agent_id=f"agent-{i % 1000}") as chunks:
            text = "".join([chunk.delta async for chunk in chunks])
        assert text

    return (stream if mode == "stream" else chat), pool.aclose


async def _client_httpx(url: str, c: int, mode: str) -> Client:
    import httpx

    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=c, max_keepalive_connections=c), timeout=120
    )
    endpoint = url + "/chat/completions"

    async def chat(i: int) -> None:
        response = await client.post(endpoint, json=_body(i, False))
        response.raise_for_status()
        assert response.json()["choices"][0]["message"]["content"]

    async def stream(i: int) -> None:
        async with client.stream("POST", endpoint, json=_body(i, True)) as response:
            response.raise_for_status()
            lines = [line.encode() async for line in response.aiter_lines()]
        assert _sse_text(lines)

    return (stream if mode == "stream" else chat), client.aclose


async def _client_aiohttp(url: str, c: int, mode: str) -> Client:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=c))
    endpoint = url + "/chat/completions"

    async def chat(i: int) -> None:
        async with session.post(endpoint, json=_body(i, False)) as response:
            response.raise_for_status()
            data = await response.json()
            assert data["choices"][0]["message"]["content"]

    async def stream(i: int) -> None:
        async with session.post(endpoint, json=_body(i, True)) as response:
            response.raise_for_status()
            lines = [line async for line in response.content]
        assert _sse_text(lines)

    return (stream if mode == "stream" else chat), session.close


async def _client_openai(url: str, c: int, mode: str) -> Client:
    import importlib

    import openai

    # openai 3.x builds on httpx2, older versions on httpx: take Limits from its base.
    base = openai.DefaultAsyncHttpxClient.__mro__[1]
    http = importlib.import_module(base.__module__.split(".")[0])
    http_client = openai.DefaultAsyncHttpxClient(
        limits=http.Limits(max_connections=c, max_keepalive_connections=c)
    )
    # a generous connect timeout: the SDK's 5 s default fails the warm-up of 1,000
    # connections on a loaded 2-core machine, and connecting is not what is measured
    client = openai.AsyncOpenAI(
        base_url=url,
        api_key="bench",
        max_retries=0,
        http_client=http_client,
        timeout=http.Timeout(600.0, connect=120.0),
    )

    async def chat(i: int) -> None:
        response = await client.chat.completions.create(
            model="mock", messages=[{"role": "user", "content": f"hello {i}"}]
        )
        assert response.choices[0].message.content

    async def stream(i: int) -> None:
        chunks: AsyncIterator[Any] = await client.chat.completions.create(
            model="mock",
            messages=[{"role": "user", "content": f"hello {i}"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        parts = [c.choices[0].delta.content or "" async for c in chunks if c.choices]
        assert "".join(parts)

    return (stream if mode == "stream" else chat), client.close


FACTORIES: dict[str, Callable[[str, int, str], Awaitable[Client]]] = {
    "agentrt": _client_agentrt,
    "httpx": _client_httpx,
    "aiohttp": _client_aiohttp,
    "openai": _client_openai,
}
