"""The answers a backend hands the pool as a stream of chunks: :class:`HTTPStream`
decodes one streamed HTTP answer as its bytes arrive (bounded by ``max_response_bytes``
and ``max_event_bytes``, errors placed with the model and replica, the replica's breaker
told how it ended when closed); :class:`WholeAnswer` serves a complete answer as a stream
(a server that answered a stream request with plain JSON).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from agentrt.llm._breaker import CircuitBreaker
from agentrt.llm._config import ProviderConfig
from agentrt.llm._errors import ProviderError
from agentrt.llm._replica import Replica, mapped_error
from agentrt.llm._transport import BodyTooLarge, Opened
from agentrt.llm._types import ChatResponse, StreamChunk
from agentrt.llm.providers._base import SSEParser, StreamDecoder

__all__ = ["HTTPStream", "WholeAnswer"]


class WholeAnswer:
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


class HTTPStream:
    """Chunks of one streamed HTTP answer, decoded as the bytes arrive; its bytes are
    counted against ``max_response_bytes`` and each event against ``max_event_bytes``."""

    def __init__(
        self,
        config: ProviderConfig,
        response: Opened,
        decoder: StreamDecoder,
        replica: Replica,
        breaker: CircuitBreaker,
        model: str,
    ) -> None:
        self._config = config
        self._response = response
        self._decoder = decoder
        self._replica: Replica | None = replica
        self._breaker = breaker
        self._model = model
        self._error: BaseException | None = None

    async def __aiter__(self) -> AsyncIterator[StreamChunk]:
        async for batch in self.batches():
            for chunk in batch:
                yield chunk

    async def batches(self) -> AsyncIterator[list[StreamChunk]]:
        """The chunks decoded from each read of the body, one non-empty list per read
        (what :class:`~agentrt.llm._streaming.ChatStream` consumes: one timed wait per
        read, not per chunk). Errors are mapped and placed as for iteration."""
        config = self._config
        parser = SSEParser(config.max_event_bytes, config.name)
        decoder = self._decoder
        limit, seen = config.max_response_bytes, 0
        try:
            async for raw in self._response.chunks():
                seen += len(raw)
                if seen > limit:
                    raise BodyTooLarge(limit)
                batch: list[StreamChunk] = []
                for event, data in parser.feed(raw):
                    batch += decoder.feed(event, data)
                if batch:
                    yield batch
            decoder.end()
        except BaseException as exc:
            error = mapped_error(config.name, exc)
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
