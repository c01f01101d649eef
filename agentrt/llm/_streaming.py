"""``ChatStream``: a streamed answer handed out by :meth:`LLMPool.stream`.

Chunks are passed on as the provider sends them (nothing is buffered beyond one SSE
event). Use it as an async context manager, so the connection and the concurrency slot
are released however the consumer leaves::

    async with pool.stream(request, agent_id="a1") as stream:
        async for chunk in stream:
            print(chunk.delta, end="", flush=True)
    print(stream.ttft_s, stream.response.usage)

- ``ttft_s``: seconds from the ``stream()`` call to the first chunk (None before it);
- ``response``: the assembled :class:`ChatResponse` (text, tool calls, finish reason,
  usage, cost) once the stream is exhausted, else None;
- the deadline applies to every wait for the next chunk (:class:`DeadlineExceeded`);
- leaving the block early closes the HTTP response (its connection is not reused).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agentrt.errors import NotRunning
from agentrt.llm._errors import DeadlineExceeded, LLMError, ProviderTimeout
from agentrt.llm._failover import across, attempt
from agentrt.llm._lane import count_error, respond
from agentrt.llm._types import ChatRequest, ChatResponse, Priority, StreamChunk, Usage
from agentrt.telemetry import Span

if TYPE_CHECKING:
    from agentrt.llm._backend import ChunkSource
    from agentrt.llm._lane import ProviderLane
    from agentrt.llm._pool import LLMPool

__all__ = ["ChatStream"]


class ChatStream:
    """An open streamed answer (see module doc)."""

    def __init__(
        self,
        pool: LLMPool,
        request: ChatRequest,
        agent_id: str | None,
        deadline: float,
        priority: Priority,
    ) -> None:
        self._pool = pool
        self._request = request
        self._agent_id = agent_id
        self._deadline = deadline
        self._priority = priority
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._started = loop.time()
        self._provider: ProviderLane | None = None
        self._source: ChunkSource | None = None
        self._batches: AsyncIterator[list[StreamChunk]] | None = None
        self._batch: list[StreamChunk] = []  # chunks of the last read not yet handed out
        self._next = 0
        self._estimate = 0
        self._parts: list[str] = []
        self._final: StreamChunk | None = None
        self.ttft_s: float | None = None
        self.response: ChatResponse | None = None
        self._span: Span | None = None

    async def __aenter__(self) -> ChatStream:
        self._span = self._pool._span(self._request, self._agent_id, "stream")
        try:
            provider, source, estimate = await self._open()
        except BaseException as exc:
            self._end_span(exc)
            raise
        self._provider, self._source, self._estimate = provider, source, estimate
        self._batches = _batches(source)
        return self

    async def _open(self) -> tuple[ProviderLane, ChunkSource, int]:
        """Open the stream on the first provider that accepts it (retries and failover
        until a status 200; the slot is held on success)."""
        pool, request, agent_id = self._pool, self._request, self._agent_id
        deadline, priority = self._deadline, self._priority
        charged: set[object] = set()

        async def once(provider: ProviderLane, last: bool) -> tuple[ProviderLane, ChunkSource, int]:
            source, estimate = await attempt(
                provider,
                request.model,
                "chat",
                deadline,
                last,
                lambda: pool._admit_waiting(provider, request, agent_id, deadline, priority),
                lambda until: provider.backend.open_stream(
                    request, agent_id=agent_id, until=until, charged=charged
                ),
                "waiting for the stream",
                pool._is_closed,
            )
            return provider, source, estimate

        chain = pool._chain(request.model)
        return await across(chain, once, deadline, pool._is_closed, pool._on_retry(agent_id))

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> StreamChunk:
        batch, index = self._batch, self._next
        if index < len(batch):  # decoded from the last read: no wait, no timer
            chunk = batch[index]
            self._next = index + 1
        else:
            chunk = await self._fetch()
        if self.ttft_s is None:
            self.ttft_s = self._loop.time() - self._started
        if chunk.delta:
            self._parts.append(chunk.delta)
        if chunk.finish_reason is not None:
            self._final = chunk
        return chunk

    async def _fetch(self) -> StreamChunk:
        """Wait for the source's next read (bounded by the deadline and the provider's
        ``timeout_s``); its first chunk. The end completes the stream."""
        batches = self._batches
        if batches is None:
            raise NotRunning(
                "stream", "use the stream inside 'async with pool.stream(...) as stream'"
            )
        name = self._provider.name if self._provider else "?"
        until = self._deadline
        if self._provider is not None:
            until = min(until, self._loop.time() + self._provider.config.timeout_s)
        try:
            async with asyncio.timeout_at(until):
                batch = await anext(batches)
                while not batch:
                    batch = await anext(batches)
        except StopAsyncIteration:
            self._complete()
            raise
        except TimeoutError as exc:
            error: BaseException = exc
            if isinstance(exc, LLMError):
                pass
            elif self._loop.time() >= self._deadline:
                error = DeadlineExceeded(name, "waiting for the next stream chunk")
            else:
                error = ProviderTimeout(name, "stream stalled: no chunk within timeout_s")
            self._failed(error)
            raise error from None
        except BaseException as exc:
            self._failed(exc)
            raise
        self._batch, self._next = batch, 1
        return batch[0]

    def _complete(self) -> None:
        final, provider = self._final, self._provider
        if final is None or provider is None or self.response is not None:
            return
        assert final.finish_reason is not None
        response = ChatResponse(
            content="".join(self._parts),
            tool_calls=final.tool_calls,
            finish_reason=final.finish_reason,
            usage=final.usage or Usage(),
            model=self._request.model,
        )
        pool, request = self._pool, self._request
        response = provider.settle(response, self._estimate, request.model)
        if request.response_format is not None:
            response = pool._schemas.parse(request, response)
        elapsed = self._loop.time() - self._started
        provider.stats.latency.record(elapsed)
        if self.ttft_s is not None:
            provider.stats.ttft.record(self.ttft_s)
        pool._charge(self._agent_id, response, elapsed, self.ttft_s)
        self.response = response
        self._end_span(None)

    def _failed(self, exc: BaseException) -> None:
        provider, recorder, agent_id = self._provider, self._pool.recorder, self._agent_id
        if provider is not None:
            count_error(provider.stats, exc)
            count_error(provider.stats.model(self._request.model), exc)
            if agent_id is not None and recorder is not None and isinstance(exc, LLMError):
                recorder.llm_error(agent_id, exc)
        self._end_span(exc)

    def _end_span(self, exc: BaseException | None) -> None:
        span, self._span = self._span, None
        if span is None:
            return
        if exc is not None:
            span.fail(exc)
            return
        response = self.response
        usage = response.usage if response is not None else Usage()
        if self._provider is not None:
            self._pool._describe(span, self._provider.name)
        if response is not None:
            respond(span, response)
        if self.ttft_s is None:  # no chunk came
            span.stop(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
        else:
            span.stop(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                ttft_s=self.ttft_s,
            )

    async def aclose(self) -> None:
        """Close the response and give the slot back (idempotent)."""
        self._end_span(None)  # a reader leaving early ends the span with what came
        batches, self._batches = self._batches, None
        self._batch = []
        source, self._source = self._source, None
        provider, self._provider = self._provider, None
        try:
            if batches is not None and hasattr(batches, "aclose"):
                await batches.aclose()
            if source is not None:
                await source.aclose()
        finally:
            if provider is not None:
                provider.queue.release()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


def _batches(source: ChunkSource) -> AsyncIterator[list[StreamChunk]]:
    """The source's chunks one read at a time: its own ``batches()`` when it has one
    (:class:`~agentrt.llm._answers.HTTPStream`), else each chunk as a list of one."""
    batches = getattr(source, "batches", None)
    if callable(batches):
        own: AsyncIterator[list[StreamChunk]] = batches()
        return own
    return _singles(source)


async def _singles(source: ChunkSource) -> AsyncIterator[list[StreamChunk]]:
    chunks = aiter(source)
    try:
        async for chunk in chunks:
            yield [chunk]
    finally:
        if hasattr(chunks, "aclose"):  # close the source's generator now, not at GC
            await chunks.aclose()
