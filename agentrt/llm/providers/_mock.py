"""The in-process mock provider: deterministic, scriptable, no network.

:class:`MockProvider` is a :class:`~agentrt.llm._backend.Backend`, so a pool configured
with ``ProviderConfig(kind="mock")`` (or given a ``MockProvider`` through
``LLMPool(backends=...)``) runs the whole queueing/retry/accounting path without HTTP.

Replies follow :mod:`agentrt.llm._mockreply` (echo, ``[[words:N]]``, ``[[reply:TEXT]]``,
``[[tool:NAME {args}]]`` tool calls), unless ``script`` holds something: each chat or
stream call then consumes its first item: a ``str`` (the reply text), a
:class:`ChatResponse` (returned as is) or an exception instance (raised, e.g.
``RateLimited(...)`` or ``ProviderUnavailable(...)`` to test retries).

Latency: ``latency_ms`` plus a uniform ``jitter_ms`` drawn from a seeded RNG.

Example::

    mock = MockProvider(latency_ms=5, script=["first answer", ProviderUnavailable("mock", "boom")])
    pool = LLMPool(config, backends={"mock": mock})
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from agentrt.llm._errors import ProviderTimeout
from agentrt.llm._mockreply import mock_embedding, mock_reply, parts_text
from agentrt.llm._tokens import estimate_tokens
from agentrt.llm._types import ChatRequest, ChatResponse, EmbeddingResponse, StreamChunk, Usage
from agentrt.messages import Message
from agentrt.tokens import content_tokens

__all__ = ["MockProvider"]

ScriptItem = str | ChatResponse | BaseException


class MockProvider:
    """An in-process deterministic provider (see module doc). Counters are in ``calls``."""

    def __init__(
        self,
        name: str = "mock",
        *,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        seed: int = 0,
        embedding_dim: int = 8,
        script: Iterable[ScriptItem] = (),
    ) -> None:
        self.name = name
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.embedding_dim = embedding_dim
        self.script: deque[ScriptItem] = deque(script)
        self.calls: Counter[str] = Counter()
        self.requests: deque[ChatRequest] = deque(maxlen=256)
        self._random = random.Random(seed)
        self.closed = False

    def ready(self, model: str, endpoint: str) -> bool:
        return True

    async def wait_ready(self, model: str, endpoint: str, deadline: float) -> None:
        return None

    async def _delay(self, until: float) -> None:
        ms = self.latency_ms + (self._random.uniform(0, self.jitter_ms) if self.jitter_ms else 0)
        if ms <= 0:
            return
        try:
            async with asyncio.timeout_at(until):
                await asyncio.sleep(ms / 1000)
        except TimeoutError:
            raise ProviderTimeout(self.name, "no answer before the attempt timed out") from None

    def _answer(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        item = self.script.popleft() if self.script else None
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, ChatResponse):
            return item
        last = request.messages[-1] if request.messages else None
        reply = mock_reply(
            last.role if last else "user",
            _last_text(last),
            tuple(t.name for t in request.tools),
        )
        content = item if isinstance(item, str) else reply.content
        finish = reply.finish if item is None else "stop"
        prompt = sum(4 + content_tokens(m.content) for m in request.messages)
        return ChatResponse(
            content=content,
            tool_calls=reply.tool_calls if item is None else (),
            finish_reason="tool_calls" if finish == "tool_calls" else "stop",
            usage=Usage(input_tokens=prompt, output_tokens=max(1, estimate_tokens(content))),
            model=request.model,
            provider=self.name,
            id="mock",
        )

    async def chat(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None,
        until: float,
        charged: set[object] | None = None,
    ) -> ChatResponse:
        self.calls["chat"] += 1
        await self._delay(until)
        return self._answer(request)

    async def open_stream(
        self,
        request: ChatRequest,
        *,
        agent_id: str | None,
        until: float,
        charged: set[object] | None = None,
    ) -> _MockStream:
        self.calls["stream"] += 1
        await self._delay(until)
        return _MockStream(self._answer(request))

    async def embed(
        self,
        texts: Sequence[str],
        *,
        model: str,
        until: float,
        charged: set[object] | None = None,
    ) -> EmbeddingResponse:
        self.calls["embed"] += 1
        self.calls["embed_inputs"] += len(texts)
        await self._delay(until)
        tokens = sum(estimate_tokens(t) for t in texts)
        return EmbeddingResponse(
            vectors=tuple(tuple(mock_embedding(t, self.embedding_dim)) for t in texts),
            model=model,
            usage=Usage(input_tokens=tokens),
        )

    def stats(self) -> dict[str, Any]:
        return {"calls": dict(self.calls), "script_left": len(self.script)}

    async def aclose(self) -> None:
        self.closed = True


def _last_text(message: Message | None) -> str:
    """What the mock reads from the last message (images as ``[image <detail>]``)."""
    if message is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    return parts_text([message.text] if message.text else [], [i.detail for i in message.images])


class _MockStream:
    """Streams a mock answer word by word, then a final chunk."""

    def __init__(self, response: ChatResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[StreamChunk]:
        words = self._response.content.split(" ") if self._response.content else []
        for i, word in enumerate(words):
            yield StreamChunk(delta=word if i == 0 else " " + word)
            await asyncio.sleep(0)
        yield StreamChunk(
            tool_calls=self._response.tool_calls,
            finish_reason=self._response.finish_reason,
            usage=self._response.usage,
        )

    async def aclose(self) -> None:
        return None
