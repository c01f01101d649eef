"""Backends: what the pool sends one attempt to.

:class:`Backend` is the protocol; :class:`HTTPBackend` implements it for one HTTP provider
config (OpenAI-compatible or Anthropic): one pooled httpx transport per replica, a circuit
breaker per replica, replicas chosen by :class:`~agentrt.llm.balance.Balancer`. The
in-process :class:`~agentrt.llm.providers.mock.MockProvider` is the other implementation.

A backend does one attempt; it neither queues, retries nor fails over (the pool does).
Errors are the LLM exception tree: transport errors become :class:`ProviderTimeout`
(timeouts) or :class:`ProviderUnavailable` (connect errors, dropped connections).

Example::

    backend = HTTPBackend(ProviderConfig(name="local", base_urls=("http://127.0.0.1:8100/v1",)))
    response = await backend.chat(request, agent_id="a1")
    await backend.aclose()
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol

import httpx

from agentrt.llm.balance import Balancer
from agentrt.llm.breaker import CircuitBreaker
from agentrt.llm.config import ProviderConfig
from agentrt.llm.errors import (
    CircuitOpen,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from agentrt.llm.providers.anthropic import AnthropicAdapter
from agentrt.llm.providers.base import Adapter, SSEParser, StreamDecoder, error_for_status
from agentrt.llm.providers.openai import OpenAIAdapter
from agentrt.llm.transport import AiohttpTransport, byte_sender, read_response
from agentrt.llm.types import ChatRequest, ChatResponse, EmbeddingResponse, StreamChunk

__all__ = ["Backend", "ChunkSource", "HTTPBackend"]


class ChunkSource(Protocol):
    """An open streamed answer: iterate it for chunks, then ``aclose()`` it."""

    def __aiter__(self) -> AsyncIterator[StreamChunk]: ...

    async def aclose(self) -> None: ...


class Backend(Protocol):
    """One provider as the pool sees it: single attempts, no retries."""

    name: str

    def available(self) -> bool:
        """False when nothing would be sent (every replica's breaker is open)."""
        ...

    async def chat(
        self, request: ChatRequest, *, agent_id: str | None, until: float
    ) -> ChatResponse:
        """One attempt; :class:`ProviderTimeout` when ``until`` (a ``loop.time()``) passes."""
        ...

    async def open_stream(
        self, request: ChatRequest, *, agent_id: str | None, until: float
    ) -> ChunkSource:
        """Send a streaming request; returns once the answer's status is known."""
        ...

    async def embed(
        self, texts: Sequence[str], *, model: str, until: float
    ) -> EmbeddingResponse: ...

    def stats(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


def _unhealthy(exc: BaseException) -> bool:
    """Does this error count against the replica's breaker?"""
    return isinstance(exc, ProviderUnavailable | ProviderTimeout | MalformedResponse)


class _Replica:
    __slots__ = (
        "breaker",
        "failures",
        "outstanding",
        "requests",
        "sender",
        "transport",
        "url",
        "urls",
    )

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport, breaker: CircuitBreaker):
        self.url = url.rstrip("/")
        # path -> (parsed URL, base headers with Host): parsing a URL costs ~10 us
        self.urls: dict[str, tuple[httpx.URL, list[tuple[str, str]]]] = {}
        self.transport = transport
        self.sender = byte_sender(transport)  # non-streaming calls: the byte-level path
        self.breaker = breaker
        self.outstanding = 0
        self.requests = 0
        self.failures = 0

    def finish(self, exc: BaseException | None) -> BaseException:
        """Account the end of a request; returns ``exc`` (for ``raise``)."""
        self.outstanding -= 1
        if exc is None:
            self.breaker.record(ok=True)
        elif isinstance(exc, ProviderError):
            unhealthy = _unhealthy(exc)
            self.failures += unhealthy
            self.breaker.record(ok=not unhealthy)
        else:  # cancelled or unexpected: no verdict on the server
            self.breaker.release_probe()
        return exc  # type: ignore[return-value]


def _timed_out(provider: str, exc: BaseException) -> BaseException:
    """The attempt's own timer expired: a ProviderTimeout (the pool turns it into
    DeadlineExceeded when the caller's deadline was the limit)."""
    if isinstance(exc, TimeoutError) and not isinstance(exc, ProviderError):
        return ProviderTimeout(provider, "no answer before the attempt timed out")
    return exc


def _make_adapter(config: ProviderConfig) -> Adapter:
    if config.kind == "anthropic":
        return AnthropicAdapter(config.anthropic_version)
    return OpenAIAdapter()


def _transport_error(provider: str, exc: httpx.TransportError) -> ProviderError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(provider, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.ConnectError):
        return ProviderUnavailable(provider, f"cannot connect: {exc}")
    return ProviderUnavailable(provider, f"connection failed: {type(exc).__name__}: {exc}")


class HTTPBackend:
    """An HTTP provider: replicas, their transports and breakers (see module doc).

    ``api_key`` comes from the pool (read from ``config.api_key_env``); it is sent in the
    provider's auth header and never stored anywhere else. ``transports`` replaces the
    transport of each replica (tests, custom httpx transports).
    """

    def __init__(
        self,
        config: ProviderConfig,
        *,
        api_key: str | None = None,
        transports: Sequence[httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.name = config.name
        self.config = config
        self.adapter = _make_adapter(config)
        merged = {**self.adapter.headers(api_key), **config.headers}
        self._headers = [(k.lower(), v) for k, v in merged.items()]
        connections = config.max_connections or config.max_concurrency
        # Read/pool timeouts are enforced by the caller's ``until`` (one timer per attempt);
        # the transport only bounds establishing a new connection.
        self._connect_s = config.connect_timeout_s
        self._extensions = {
            "timeout": {
                "connect": config.connect_timeout_s,
                "read": None,
                "write": None,
                "pool": None,
            }
        }
        if transports is not None and len(transports) != len(config.base_urls):
            raise ValueError("one transport per base URL is needed")
        self.replicas = [
            _Replica(
                url,
                transports[i] if transports else self._transport(config.transport, connections),
                CircuitBreaker(config.breaker),
            )
            for i, url in enumerate(config.base_urls)
        ]
        self.balancer = Balancer(len(self.replicas))

    @staticmethod
    def _transport(kind: str, connections: int) -> httpx.AsyncBaseTransport:
        if kind == "aiohttp":
            return AiohttpTransport(max_connections=connections)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncHTTPTransport(limits=limits)

    def __repr__(self) -> str:
        return f"HTTPBackend(name={self.name!r}, replicas={[r.url for r in self.replicas]!r})"

    def available(self) -> bool:
        return any(r.breaker.available() for r in self.replicas)

    def _pick(self, agent_id: str | None) -> _Replica:
        replicas = self.replicas
        if len(replicas) == 1:
            chosen: _Replica | None = replicas[0] if replicas[0].breaker.allow() else None
        else:
            index = self.balancer.pick(
                agent_id,
                [r.outstanding for r in replicas],
                [r.breaker.available() for r in replicas],
            )
            chosen = None if index is None else replicas[index]
            if chosen is not None and not chosen.breaker.allow():
                chosen = None
        if chosen is None:
            raise CircuitOpen(self.name)
        chosen.outstanding += 1
        chosen.requests += 1
        return chosen

    def _request(self, replica: _Replica, path: str, body: bytes) -> httpx.Request:
        """An ``httpx.Request`` built from parts prepared once per replica.

        Passing ``stream=`` skips httpx's per-request body encoding and header
        preparation (about a third of the cost of building a request), so ``Host`` and
        ``Content-Length`` are set here.
        """
        prepared = replica.urls.get(path)
        if prepared is None:
            url = httpx.URL(replica.url + path)
            host = url.netloc.decode("ascii")
            prepared = replica.urls[path] = (url, [("host", host), *self._headers])
        url, headers = prepared
        return httpx.Request(
            "POST",
            url,
            headers=[*headers, ("content-length", str(len(body)))],
            stream=httpx.ByteStream(body),
            extensions=self._extensions,
        )

    async def _send(self, replica: _Replica, path: str, body: bytes) -> httpx.Response:
        request = self._request(replica, path, body)
        try:
            return await replica.transport.handle_async_request(request)
        except httpx.TransportError as exc:
            raise _transport_error(self.name, exc) from exc

    async def _exchange(self, replica: _Replica, path: str, body: bytes) -> bytes:
        """POST ``body``; the response body of a 200, else the mapped error."""
        try:
            status, headers, data = await replica.sender.send_bytes(
                "POST", replica.url + path, self._headers, body, connect_timeout=self._connect_s
            )
        except httpx.TransportError as exc:
            raise _transport_error(self.name, exc) from exc
        if status != 200:
            raise error_for_status(self.name, status, data, headers)
        return data

    async def chat(
        self, request: ChatRequest, *, agent_id: str | None, until: float
    ) -> ChatResponse:
        model = self.config.resolve_model(request.model)
        body = self.adapter.encode_chat(request, model, stream=False)
        replica = self._pick(agent_id)
        try:
            async with asyncio.timeout_at(until):
                data = await self._exchange(replica, self.adapter.chat_path, body)
            response = self.adapter.decode_chat(self.name, data)
        except BaseException as exc:
            raise replica.finish(_timed_out(self.name, exc)) from None
        replica.finish(None)
        return response

    async def embed(self, texts: Sequence[str], *, model: str, until: float) -> EmbeddingResponse:
        path = self.adapter.embed_path
        body = self.adapter.encode_embed(texts, self.config.resolve_model(model))
        assert path is not None  # encode_embed raised for adapters without embeddings
        replica = self._pick(None)
        try:
            async with asyncio.timeout_at(until):
                data = await self._exchange(replica, path, body)
            response = self.adapter.decode_embed(self.name, data, len(texts))
        except BaseException as exc:
            raise replica.finish(_timed_out(self.name, exc)) from None
        replica.finish(None)
        return response

    async def open_stream(
        self, request: ChatRequest, *, agent_id: str | None, until: float
    ) -> ChunkSource:
        model = self.config.resolve_model(request.model)
        body = self.adapter.encode_chat(request, model, stream=True)
        replica = self._pick(agent_id)
        try:
            async with asyncio.timeout_at(until):
                response = await self._send(replica, self.adapter.chat_path, body)
                if response.status_code != 200:
                    data = await read_response(response)
                    raise error_for_status(self.name, response.status_code, data, response.headers)
        except httpx.TransportError as exc:
            raise replica.finish(_transport_error(self.name, exc)) from exc
        except BaseException as exc:
            raise replica.finish(_timed_out(self.name, exc)) from None
        return _HTTPStream(self.name, response, self.adapter.stream_decoder(self.name), replica)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in self.replicas:
            entry: dict[str, Any] = {
                "outstanding": r.outstanding,
                "requests": r.requests,
                "failures": r.failures,
                "breaker": r.breaker.stats(),
            }
            if isinstance(r.transport, AiohttpTransport):
                entry["connections"] = r.transport.stats()
            out[r.url] = entry
        return {"replicas": out}

    async def aclose(self) -> None:
        for r in self.replicas:
            await r.transport.aclose()


class _HTTPStream:
    """Chunks of one streamed HTTP answer, decoded as the bytes arrive."""

    def __init__(
        self, provider: str, response: httpx.Response, decoder: StreamDecoder, replica: _Replica
    ) -> None:
        self._provider = provider
        self._response = response
        self._decoder = decoder
        self._replica: _Replica | None = replica
        self._error: BaseException | None = None

    async def __aiter__(self) -> AsyncIterator[StreamChunk]:
        parser = SSEParser()
        try:
            async for raw in self._response.aiter_bytes():
                for event, data in parser.feed(raw):
                    for chunk in self._decoder.feed(event, data):
                        yield chunk
            self._decoder.end()
        except httpx.TransportError as exc:
            self._error = _transport_error(self._provider, exc)
            raise self._error from exc
        except BaseException as exc:
            self._error = exc
            raise

    async def aclose(self) -> None:
        replica, self._replica = self._replica, None
        if replica is None:
            return
        try:
            await self._response.aclose()
        finally:
            replica.finish(self._error)
