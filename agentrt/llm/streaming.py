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
from agentrt.llm.errors import DeadlineExceeded, LLMError, ProviderTimeout
from agentrt.llm.types import ChatRequest, ChatResponse, Priority, StreamChunk, Usage
from agentrt.telemetry import Span

if TYPE_CHECKING:
    from agentrt.llm.backend import ChunkSource
    from agentrt.llm.lane import ProviderLane
    from agentrt.llm.pool import LLMPool

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
        self._chunks: AsyncIterator[StreamChunk] | None = None
        self._estimate = 0
        self._parts: list[str] = []
        self._final: StreamChunk | None = None
        self.ttft_s: float | None = None
        self.response: ChatResponse | None = None
        self._span: Span | None = None

    async def __aenter__(self) -> ChatStream:
        self._span = self._pool._span(self._request, self._agent_id, "stream")
        try:
            provider, source, estimate = await self._pool._open_stream(
                self._request, self._agent_id, self._deadline, self._priority
            )
        except BaseException as exc:
            self._end_span(exc)
            raise
        self._provider, self._source, self._estimate = provider, source, estimate
        self._chunks = aiter(source)
        return self

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> StreamChunk:
        if self._chunks is None:
            raise NotRunning(
                "stream", "use the stream inside 'async with pool.stream(...) as stream'"
            )
        name = self._provider.name if self._provider else "?"
        until = self._deadline
        if self._provider is not None:
            until = min(until, self._loop.time() + self._provider.config.timeout_s)
        try:
            async with asyncio.timeout_at(until):
                chunk = await anext(self._chunks)
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
        if self.ttft_s is None:
            self.ttft_s = self._loop.time() - self._started
        if chunk.delta:
            self._parts.append(chunk.delta)
        if chunk.finish_reason is not None:
            self._final = chunk
        return chunk

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
        self.response = self._pool._account_stream(
            provider,
            response,
            self._estimate,
            self._agent_id,
            self._loop.time() - self._started,
            self.ttft_s,
            self._request,
        )
        self._end_span(None)

    def _failed(self, exc: BaseException) -> None:
        if self._provider is not None:
            self._pool._stream_failed(self._provider, exc, self._agent_id)
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
            span.metadata["provider"] = self._provider.name
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
        if self._span is not None and self._provider is not None:
            self._span.metadata["provider"] = self._provider.name
        self._end_span(None)  # a reader leaving early ends the span with what came
        chunks, self._chunks = self._chunks, None
        source, self._source = self._source, None
        provider, self._provider = self._provider, None
        try:
            if chunks is not None and hasattr(chunks, "aclose"):
                await chunks.aclose()
            if source is not None:
                await source.aclose()
        finally:
            if provider is not None:
                provider.queue.release()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
