"""Backends: what the pool sends one attempt to.

:class:`Backend` is the protocol; :class:`HTTPBackend` implements it for one HTTP provider
config (OpenAI-compatible or Anthropic): one pooled httpx transport per replica, replicas
chosen by :class:`~agentrt.llm.balance.Balancer`, and a circuit breaker per
**(provider, replica base URL, model, endpoint kind)**. The in-process
:class:`~agentrt.llm.providers.mock.MockProvider` is the other implementation.

A backend does one attempt; it neither queues, retries nor fails over (the pool does).
Errors are the LLM exception tree, each placed (:meth:`ProviderError.place`) with the
model and the replica's base URL: transport errors become :class:`ProviderTimeout`
(timeouts) or :class:`ProviderUnavailable` (connect errors, dropped connections); a
body over ``max_response_bytes`` or an SSE event over ``max_event_bytes`` becomes
:class:`ResponseTooLarge`.

Breakers. One model failing must not cut off the others a proxy serves from the same
base URL, and a broken embeddings deployment must not cut off chat: the key includes the
model and the endpoint kind (``chat``, streams included, or ``embeddings``). What counts
against a breaker (:func:`breaks`): answers that say the server is broken (5xx without
``Retry-After`` except 529, connect errors, a connection dropped mid-answer, an attempt
that used its whole ``timeout_s``, malformed answers). Not counted: 4xx (the server
works), backpressure (429, any status carrying ``Retry-After``, 409, 529: the rate limiter
handles it), a stale keep-alive connection (retried at once by the transport), an
attempt cut short by the caller's own deadline, cancellation. A retried request counts
once (``charged``).

Example::

    backend = HTTPBackend(ProviderConfig(name="local", base_urls=("http://127.0.0.1:8100/v1",)))
    response = await backend.chat(request, agent_id="a1", until=loop.time() + 30)
    await backend.aclose()
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol

import httpx

from agentrt.errors import InvalidArgument
from agentrt.llm.balance import Balancer
from agentrt.llm.breaker import CircuitBreaker
from agentrt.llm.config import ProviderConfig
from agentrt.llm.errors import (
    CircuitOpen,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ResponseTooLarge,
)
from agentrt.llm.providers.anthropic import AnthropicAdapter
from agentrt.llm.providers.base import Adapter, SSEParser, StreamDecoder, error_for_status
from agentrt.llm.providers.openai import OpenAIAdapter
from agentrt.llm.transport import AiohttpTransport, BodyTooLarge, byte_sender, read_response
from agentrt.llm.types import ChatRequest, ChatResponse, EmbeddingResponse, StreamChunk
from agentrt.redact import redact_url

__all__ = ["Backend", "ChunkSource", "Endpoint", "HTTPBackend", "breaks"]

Endpoint = Literal["chat", "embeddings"]
"""The endpoint kind a breaker is kept for (streams are ``chat``)."""

#: Breakers kept per replica (models x endpoints); past it, closed ones are dropped.
MAX_BREAKERS = 1024


class ChunkSource(Protocol):
    """An open streamed answer: iterate it for chunks, then ``aclose()`` it."""

    def __aiter__(self) -> AsyncIterator[StreamChunk]: ...

    async def aclose(self) -> None: ...


class Backend(Protocol):
    """One provider as the pool sees it: single attempts, no retries."""

    name: str

    def ready(self, model: str, endpoint: Endpoint) -> bool:
        """True when a request for ``model`` would be let through now."""
        ...

    async def wait_ready(self, model: str, endpoint: Endpoint, deadline: float) -> None:
        """Wait until a request for ``model`` would be let through (an open breaker
        reaching half-open, a probe succeeding); :class:`CircuitOpen` at once when that
        cannot happen before ``deadline``."""
        ...

    async def chat(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None,
        until: float,
        charged: set[object] | None = None,
    ) -> ChatResponse:
        """One attempt; :class:`ProviderTimeout` when ``until`` (a ``loop.time()``) passes.
        ``charged``: breakers this request already counted a failure in (updated)."""
        ...

    async def open_stream(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None,
        until: float,
        charged: set[object] | None = None,
    ) -> ChunkSource:
        """Send a streaming request; returns once the answer's status is known."""
        ...

    async def embed(
        self,
        texts: Sequence[str],
        *,
        model: str,
        until: float,
        charged: set[object] | None = None,
    ) -> EmbeddingResponse: ...

    def stats(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


def breaks(exc: BaseException, *, whole_timeout: bool = True) -> bool:
    """Does ``exc`` say the server is broken (counted by its breaker)? See module doc.

    ``whole_timeout``: the attempt ran for its full ``timeout_s`` (a timeout cut short by
    the caller's deadline says nothing about the server)."""
    if isinstance(exc, CircuitOpen):
        return False
    if isinstance(exc, ProviderUnavailable):
        return exc.retry_after is None and exc.status not in (409, 529)
    if isinstance(exc, ProviderTimeout):
        return exc.status is None and whole_timeout
    return isinstance(exc, MalformedResponse)


def _backpressure(exc: BaseException) -> bool:
    if isinstance(exc, ProviderUnavailable) and not isinstance(exc, CircuitOpen):
        return exc.retry_after is not None or exc.status in (409, 529)
    return isinstance(exc, RateLimited)


class _Replica:
    __slots__ = (
        "breakers",
        "config",
        "failures",
        "outstanding",
        "requests",
        "sender",
        "transport",
        "url",
    )

    def __init__(self, url: str, transport: httpx.AsyncBaseTransport, config: ProviderConfig):
        self.url = url.rstrip("/")
        self.transport = transport
        self.sender = byte_sender(transport)  # non-streaming calls: the byte-level path
        self.config = config
        self.breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self.outstanding = 0
        self.requests = 0
        self.failures = 0

    def breaker(self, key: tuple[str, str]) -> CircuitBreaker:
        """The breaker of (model, endpoint) on this replica (created closed)."""
        breaker = self.breakers.get(key)
        if breaker is None:
            if len(self.breakers) >= MAX_BREAKERS:
                self._forget_closed()
            breaker = self.breakers[key] = CircuitBreaker(self.config.breaker)
        return breaker

    def _forget_closed(self) -> None:
        for key in [k for k, b in self.breakers.items() if b.state == "closed" and not b.failures]:
            del self.breakers[key]

    def finish(
        self,
        breaker: CircuitBreaker,
        exc: BaseException | None,
        charged: set[object] | None = None,
        whole_timeout: bool = True,
    ) -> None:
        """Account the end of a request in the counters and the breaker."""
        self.outstanding -= 1
        if exc is None:
            breaker.record(ok=True)
        elif breaks(exc, whole_timeout=whole_timeout):
            self.failures += 1
            breaker.record(ok=False, charge=charged is None or breaker not in charged)
            if charged is not None:
                charged.add(breaker)
        elif isinstance(exc, ProviderError) and not _backpressure(exc):
            breaker.record(ok=True)  # it answered (4xx): alive
        else:  # backpressure, cancelled, deadline: no verdict on the server
            breaker.release_probe()


def _mapped(provider: str, exc: BaseException) -> BaseException:
    """The LLM error an attempt's exception stands for: the attempt's own timer expiring
    is a ProviderTimeout (the pool turns it into DeadlineExceeded when the caller's
    deadline was the limit), a transport error or an over-long body their errors."""
    if isinstance(exc, TimeoutError) and not isinstance(exc, ProviderError):
        return ProviderTimeout(provider, "no answer before the attempt timed out")
    if isinstance(exc, httpx.TransportError):
        return _transport_error(provider, exc)
    if isinstance(exc, BodyTooLarge):
        problem = f"response body larger than max_response_bytes={exc.limit}"
        return ResponseTooLarge(provider, problem, limit=exc.limit)
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
            raise InvalidArgument("transports", "one transport per base URL is needed")
        self.replicas = [
            _Replica(
                url,
                transports[i] if transports else self._transport(config.transport, connections),
                config,
            )
            for i, url in enumerate(config.base_urls)
        ]
        self._urls = ", ".join(r.url for r in self.replicas)
        # (replica, path) -> (parsed URL, base headers with Host): parsing costs ~10 us
        self._prepared: dict[tuple[str, str], tuple[httpx.URL, list[tuple[str, str]]]] = {}
        self.balancer = Balancer(len(self.replicas))

    @staticmethod
    def _transport(kind: str, connections: int) -> httpx.AsyncBaseTransport:
        if kind == "aiohttp":
            return AiohttpTransport(max_connections=connections)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncHTTPTransport(limits=limits)

    def __repr__(self) -> str:
        urls = [redact_url(r.url) for r in self.replicas]
        return f"HTTPBackend(name={self.name!r}, replicas={urls!r})"

    # -- breakers ---------------------------------------------------------------------------

    def ready(self, model: str, endpoint: Endpoint) -> bool:
        key = (self.config.resolve_model(model), endpoint)
        return any(r.breaker(key).available() for r in self.replicas)

    async def wait_ready(self, model: str, endpoint: Endpoint, deadline: float) -> None:
        model = self.config.resolve_model(model)
        key = (model, endpoint)
        loop = asyncio.get_running_loop()
        while True:
            breakers = [r.breaker(key) for r in self.replicas]
            waits = [b.ready_in() for b in breakers]
            if 0.0 in waits:
                return
            remaining = deadline - loop.time()
            soonest = min((w for w in waits if w is not None), default=math.inf)
            probing = [b for b, w in zip(breakers, waits, strict=True) if w is None]
            if soonest < remaining:
                timeout = soonest
            elif probing and remaining > 0:
                timeout = remaining
            else:
                raise CircuitOpen(self.name, model=model, url=self._urls)
            watched = probing[0] if probing else breakers[waits.index(soonest)]
            await watched.wait_change(timeout)

    def _pick(self, agent_id: str | None, key: tuple[str, str]) -> tuple[_Replica, CircuitBreaker]:
        replicas = self.replicas
        if len(replicas) == 1:
            chosen = replicas[0]
            breaker = chosen.breaker(key)
            if not breaker.allow():
                raise CircuitOpen(self.name, model=key[0], url=self._urls)
        else:
            breakers = [r.breaker(key) for r in replicas]
            index = self.balancer.pick(
                agent_id, [r.outstanding for r in replicas], [b.available() for b in breakers]
            )
            if index is None or not breakers[index].allow():
                raise CircuitOpen(self.name, model=key[0], url=self._urls)
            chosen, breaker = replicas[index], breakers[index]
        chosen.outstanding += 1
        chosen.requests += 1
        return chosen, breaker

    def _failed(
        self,
        replica: _Replica,
        breaker: CircuitBreaker,
        exc: BaseException,
        model: str,
        budget: float,
        charged: set[object] | None,
    ) -> BaseException:
        """Map, place and account a failed attempt; returns the error to raise.
        ``budget``: the seconds the attempt was given (``until - start``)."""
        error = _mapped(self.name, exc)
        if isinstance(error, ProviderError):
            error.place(model, replica.url)
        whole = budget >= self.config.timeout_s * 0.99
        replica.finish(breaker, error, charged, whole)
        return error

    # -- requests ---------------------------------------------------------------------------

    def _request(self, replica: _Replica, path: str, body: bytes) -> httpx.Request:
        """An ``httpx.Request`` built from parts prepared once per replica.

        Passing ``stream=`` skips httpx's per-request body encoding and header
        preparation (about a third of the cost of building a request), so ``Host`` and
        ``Content-Length`` are set here.
        """
        prepared = self._prepared.get((replica.url, path))
        if prepared is None:
            url = httpx.URL(replica.url + path)
            host = url.netloc.decode("ascii")
            prepared = self._prepared[(replica.url, path)] = (url, [("host", host), *self._headers])
        url, headers = prepared
        return httpx.Request(
            "POST",
            url,
            headers=[*headers, ("content-length", str(len(body)))],
            stream=httpx.ByteStream(body),
            extensions=self._extensions,
        )

    async def _exchange(self, replica: _Replica, path: str, body: bytes) -> bytes:
        """POST ``body``; the response body of a 200, else the mapped error."""
        status, headers, data = await replica.sender.send_bytes(
            "POST",
            replica.url + path,
            self._headers,
            body,
            connect_timeout=self._connect_s,
            max_body=self.config.max_response_bytes,
        )
        if status != 200:
            raise error_for_status(self.name, status, data, headers)
        return data

    async def chat(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None,
        until: float,
        charged: set[object] | None = None,
    ) -> ChatResponse:
        model = self.config.resolve_model(request.model)
        body = self.adapter.encode_chat(request, model, stream=False)
        replica, breaker = self._pick(agent_id, (model, "chat"))
        budget = until - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(until):
                data = await self._exchange(replica, self.adapter.chat_path, body)
            response = self.adapter.decode_chat(self.name, data)
        except BaseException as exc:
            raise self._failed(replica, breaker, exc, model, budget, charged) from None
        replica.finish(breaker, None)
        return response

    async def embed(
        self,
        texts: Sequence[str],
        *,
        model: str,
        until: float,
        charged: set[object] | None = None,
    ) -> EmbeddingResponse:
        path = self.adapter.embed_path
        model = self.config.resolve_model(model)
        body = self.adapter.encode_embed(texts, model)
        assert path is not None  # encode_embed raised for adapters without embeddings
        replica, breaker = self._pick(None, (model, "embeddings"))
        budget = until - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout_at(until):
                data = await self._exchange(replica, path, body)
            response = self.adapter.decode_embed(self.name, data, len(texts))
        except BaseException as exc:
            raise self._failed(replica, breaker, exc, model, budget, charged) from None
        replica.finish(breaker, None)
        return response

    async def open_stream(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None,
        until: float,
        charged: set[object] | None = None,
    ) -> ChunkSource:
        """Send a streaming request. A server answering it with plain JSON (some ignore
        ``stream``) is understood: an error object raises the server's error, a complete
        answer is passed on as one text chunk and the final chunk."""
        model = self.config.resolve_model(request.model)
        body = self.adapter.encode_chat(request, model, stream=True)
        replica, breaker = self._pick(agent_id, (model, "chat"))
        budget = until - asyncio.get_running_loop().time()
        limit = self.config.max_response_bytes
        try:
            async with asyncio.timeout_at(until):
                response = await replica.transport.handle_async_request(
                    self._request(replica, self.adapter.chat_path, body)
                )
                if response.status_code != 200:
                    data = await read_response(response, limit)
                    raise error_for_status(self.name, response.status_code, data, response.headers)
                if "json" in response.headers.get("content-type", ""):
                    data = await read_response(response, limit)
                    whole = self.adapter.decode_chat(self.name, data)
                    replica.finish(breaker, None)
                    return _WholeAnswer(whole)
        except BaseException as exc:
            raise self._failed(replica, breaker, exc, model, budget, charged) from None
        decoder = self.adapter.stream_decoder(self.name)
        return _HTTPStream(self, response, decoder, replica, breaker, model)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for r in self.replicas:
            entry: dict[str, Any] = {
                "outstanding": r.outstanding,
                "requests": r.requests,
                "failures": r.failures,
                "breakers": {f"{e}:{m}": b.stats() for (m, e), b in r.breakers.items()},
            }
            if isinstance(r.transport, AiohttpTransport):
                entry["connections"] = r.transport.stats()
            out[redact_url(r.url)] = entry  # stats reach the endpoint and top
        return {"replicas": out}

    async def aclose(self) -> None:
        for r in self.replicas:
            await r.transport.aclose()


class _WholeAnswer:
    """A complete (non-streamed) answer served as a stream: its text, then the end."""

    def __init__(self, response: ChatResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[StreamChunk]:
        response = self._response
        if response.content:
            yield StreamChunk(delta=response.content)
        yield StreamChunk(
            tool_calls=response.tool_calls,
            finish_reason=response.finish_reason,
            usage=response.usage,
        )

    async def aclose(self) -> None:
        return None


class _HTTPStream:
    """Chunks of one streamed HTTP answer, decoded as the bytes arrive; its bytes are
    counted against ``max_response_bytes`` and each event against ``max_event_bytes``."""

    def __init__(
        self,
        backend: HTTPBackend,
        response: httpx.Response,
        decoder: StreamDecoder,
        replica: _Replica,
        breaker: CircuitBreaker,
        model: str,
    ) -> None:
        self._backend = backend
        self._response = response
        self._decoder = decoder
        self._replica: _Replica | None = replica
        self._breaker = breaker
        self._model = model
        self._error: BaseException | None = None

    async def __aiter__(self) -> AsyncIterator[StreamChunk]:
        config = self._backend.config
        parser = SSEParser(config.max_event_bytes, config.name)
        limit, seen = config.max_response_bytes, 0
        try:
            async for raw in self._response.aiter_bytes():
                seen += len(raw)
                if seen > limit:
                    raise BodyTooLarge(limit)
                for event, data in parser.feed(raw):
                    for chunk in self._decoder.feed(event, data):
                        yield chunk
            self._decoder.end()
        except BaseException as exc:
            error = _mapped(config.name, exc)
            if isinstance(error, ProviderError) and self._replica is not None:
                error.place(self._model, self._replica.url)
            self._error = error
            if error is exc:
                raise
            raise error from exc

    async def aclose(self) -> None:
        replica, self._replica = self._replica, None
        if replica is None:
            return
        try:
            await self._response.aclose()
        finally:
            replica.finish(self._breaker, self._error)
