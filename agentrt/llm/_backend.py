"""Backends: what the pool sends one attempt to.

:class:`Backend` is the protocol; :class:`HTTPBackend` implements it for one HTTP provider
config (OpenAI-compatible or Anthropic): one pooled httpx transport per replica, replicas
chosen by :class:`~agentrt.llm._balance.Balancer`, and a circuit breaker per
**(provider, replica base URL, model, endpoint kind)**. The in-process
:class:`~agentrt.llm.providers._mock.MockProvider` is the other implementation.

A backend does one attempt; it neither queues, retries nor fails over (the pool does).
Errors are the LLM exception tree, each placed (:meth:`ProviderError.place`) with the
model and the replica's base URL: transport errors become :class:`ProviderTimeout`
(timeouts) or :class:`ProviderUnavailable` (connect errors, dropped connections); a
body over ``max_response_bytes`` or an SSE event over ``max_event_bytes`` becomes
:class:`ResponseTooLarge`.

Breakers. One model failing must not cut off the others a proxy serves from the same
base URL, and a broken embeddings deployment must not cut off chat: the key includes the
model and the endpoint kind (``chat``, streams included, or ``embeddings``). What counts
against a breaker is :func:`~agentrt.llm._replica.breaks` (re-exported here): answers that
say the server is broken; not 4xx, backpressure (429, a Retry-After), a stale keep-alive
connection, the caller's own deadline or cancellation (:mod:`agentrt.llm._replica`).
Streamed answers are :mod:`agentrt.llm._answers`.

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
from agentrt.llm._answers import HTTPStream, WholeAnswer
from agentrt.llm._balance import Balancer
from agentrt.llm._breaker import CircuitBreaker
from agentrt.llm._config import ProviderConfig
from agentrt.llm._errors import CircuitOpen, ProviderError
from agentrt.llm._replica import Replica, breaks, mapped_error
from agentrt.llm._transport import AiohttpTransport
from agentrt.llm._types import ChatRequest, ChatResponse, EmbeddingResponse, StreamChunk
from agentrt.llm.providers._anthropic import AnthropicAdapter
from agentrt.llm.providers._base import Adapter, error_for_status
from agentrt.llm.providers._openai import OpenAIAdapter
from agentrt.redact import redact_url

__all__ = ["Backend", "ChunkSource", "Endpoint", "HTTPBackend", "breaks"]

Endpoint = Literal["chat", "embeddings"]
"""The endpoint kind a breaker is kept for (streams are ``chat``)."""


class ChunkSource(Protocol):
    """An open streamed answer: iterate it for chunks, then ``aclose()`` it.

    A source may also have ``batches()``: an async iterator of the non-empty lists of
    chunks each read of the answer decoded (:class:`~agentrt.llm._answers.HTTPStream`
    has it); the pool then arms one timer per read instead of one per chunk."""

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


def _make_adapter(config: ProviderConfig) -> Adapter:
    if config.kind == "anthropic":
        return AnthropicAdapter(config.anthropic_version)
    return OpenAIAdapter()


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
        if transports is not None and len(transports) != len(config.base_urls):
            raise InvalidArgument("transports", "one transport per base URL is needed")
        self.replicas = [
            Replica(
                url,
                transports[i] if transports else self._transport(config.transport, connections),
                config,
            )
            for i, url in enumerate(config.base_urls)
        ]
        self._urls = ", ".join(r.url for r in self.replicas)
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

    def _pick(self, agent_id: str | None, key: tuple[str, str]) -> tuple[Replica, CircuitBreaker]:
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
        replica: Replica,
        breaker: CircuitBreaker,
        exc: BaseException,
        model: str,
        budget: float,
        charged: set[object] | None,
    ) -> BaseException:
        """Map, place and account a failed attempt; returns the error to raise.
        ``budget``: the seconds the attempt was given (``until - start``)."""
        error = mapped_error(self.name, exc)
        if isinstance(error, ProviderError):
            error.place(model, replica.url)
        whole = budget >= self.config.timeout_s * 0.99
        replica.finish(breaker, error, charged, whole)
        return error

    # -- requests ---------------------------------------------------------------------------

    async def _exchange(self, replica: Replica, path: str, body: bytes) -> bytes:
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
                answer = await replica.sender.open_bytes(
                    "POST",
                    replica.url + self.adapter.chat_path,
                    self._headers,
                    body,
                    connect_timeout=self._connect_s,
                )
                if answer.status != 200:
                    data = await answer.read(limit)
                    raise error_for_status(self.name, answer.status, data, answer.headers)
                if "json" in answer.headers.get("content-type", ""):
                    whole = self.adapter.decode_chat(self.name, await answer.read(limit))
                    replica.finish(breaker, None)
                    return WholeAnswer(whole)
        except BaseException as exc:
            raise self._failed(replica, breaker, exc, model, budget, charged) from None
        decoder = self.adapter.stream_decoder(self.name)
        return HTTPStream(self.config, answer, decoder, replica, breaker, model)

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
