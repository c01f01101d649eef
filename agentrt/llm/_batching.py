"""Batching: embedding micro-batches and coalescing of identical in-flight requests.

:class:`EmbeddingBatcher` gathers ``embed`` calls for one model into one list-input HTTP
call: a batch is sent when it holds ``max_batch_size`` texts or ``max_wait_ms`` after its
first text arrived, whichever comes first; each caller gets its own slice back (in its
own order). A call with ``max_batch_size`` texts or more is sent alone. A caller that is
cancelled (or whose deadline passes) stops waiting at once; the batch still serves the
others. A failed batch fails every caller in it with the same error. At most
``max_pending`` texts wait to be sent (further callers get :class:`Overloaded`).

:class:`Coalescer` runs one call per key at a time: callers asking for a key already in
flight wait for that call's result instead of sending their own. If the caller running
the call is cancelled, one of the waiting callers takes over and sends it.

Neither holds a task while idle; :meth:`EmbeddingBatcher.aclose` cancels its timers and
batches, leaving nothing pending.

Example::

    batcher = EmbeddingBatcher(send, BatchConfig(max_batch_size=64, max_wait_ms=2))
    response = await batcher.embed(["some text"], model="text-embedding-3-small")
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from agentrt.llm._config import BatchConfig
from agentrt.llm._errors import DeadlineExceeded, Overloaded, PoolClosed
from agentrt.llm._types import EmbeddingResponse, Usage

__all__ = ["Coalescer", "EmbeddingBatcher"]

T = TypeVar("T")
SendBatch = Callable[[list[str], str, float], Awaitable[EmbeddingResponse]]


class _Batch:
    __slots__ = ("deadline", "parts", "size", "timer")

    def __init__(self) -> None:
        self.parts: list[tuple[Sequence[str], asyncio.Future[EmbeddingResponse]]] = []
        self.size = 0
        self.deadline = 0.0
        self.timer: asyncio.TimerHandle | None = None


def _slice(response: EmbeddingResponse, start: int, count: int, total: int) -> EmbeddingResponse:
    share = count / total
    usage = Usage(input_tokens=round(response.usage.input_tokens * share))
    vectors = response.vectors[start : start + count]
    return EmbeddingResponse(vectors=vectors, model=response.model, usage=usage)


class EmbeddingBatcher:
    """Micro-batches embedding calls per model (see module doc).

    ``send(texts, model, deadline)`` performs one (guarded, retried) provider call; a batch
    uses the latest deadline of its callers.
    """

    def __init__(self, send: SendBatch, config: BatchConfig, *, max_pending: int = 65_536):
        self._send = send
        self.config = config
        self.max_pending = max_pending
        self._open: dict[str, _Batch] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._pending_texts = 0
        self._closed = False
        self.batches = 0
        self.texts = 0

    async def embed(
        self, texts: Sequence[str], *, model: str, deadline: float
    ) -> EmbeddingResponse:
        if self._closed:
            raise PoolClosed()
        if len(texts) >= self.config.max_batch_size:
            self.batches += 1
            self.texts += len(texts)
            return await self._send(list(texts), model, deadline)
        if self._pending_texts + len(texts) > self.max_pending:
            raise Overloaded("embeddings", self.max_pending)
        loop = asyncio.get_running_loop()
        batch = self._open.get(model)
        if batch is not None and batch.size + len(texts) > self.config.max_batch_size:
            self._flush(model)
            batch = None
        if batch is None:
            batch = self._open[model] = _Batch()
            batch.timer = loop.call_later(self.config.max_wait_ms / 1000, self._flush, model)
        future: asyncio.Future[EmbeddingResponse] = loop.create_future()
        batch.parts.append((texts, future))
        batch.size += len(texts)
        batch.deadline = max(batch.deadline, deadline)
        self._pending_texts += len(texts)
        if batch.size >= self.config.max_batch_size:
            self._flush(model)
        try:
            async with asyncio.timeout_at(deadline):
                return await future
        except TimeoutError as exc:
            if future.done() and not future.cancelled():
                raise  # the batch itself failed with a timeout error
            raise DeadlineExceeded("embeddings", "waiting for the embedding batch") from exc

    def _flush(self, model: str) -> None:
        batch = self._open.pop(model, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        # in an empty context: the batch serves many callers; its records name none
        run = self._run(batch, model)
        task = contextvars.Context().run(asyncio.get_running_loop().create_task, run)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: _Batch, model: str) -> None:
        self._pending_texts -= batch.size
        parts = [(t, f) for t, f in batch.parts if not f.done()]
        if not parts:
            return
        texts = [text for chunk, _ in parts for text in chunk]
        self.batches += 1
        self.texts += len(texts)
        try:
            response = await self._send(texts, model, batch.deadline)
        except BaseException as exc:
            error = PoolClosed() if isinstance(exc, asyncio.CancelledError) else exc
            for _, future in parts:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        start = 0
        for chunk, future in parts:
            if not future.done():
                future.set_result(_slice(response, start, len(chunk), len(texts)))
            start += len(chunk)

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "texts": self.texts,
            "open_batches": len(self._open),
            "pending_texts": self._pending_texts,
            "running": len(self._running),
        }

    async def aclose(self) -> None:
        """Fail waiting callers with PoolClosed and cancel running batches."""
        self._closed = True
        for batch in self._open.values():
            if batch.timer is not None:
                batch.timer.cancel()
            for _, future in batch.parts:
                if not future.done():
                    future.set_exception(PoolClosed())
        self._open.clear()
        tasks = list(self._running)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _LeaderGone(Exception):
    """The caller running a coalesced call was cancelled; a follower takes over."""


class Coalescer(Generic[T]):
    """One call per key at a time; concurrent callers of a key share its result."""

    def __init__(self) -> None:
        self._inflight: dict[Hashable, list[asyncio.Future[T]]] = {}
        self.coalesced = 0

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(
        self, key: Hashable, call: Callable[[], Awaitable[T]], deadline: float
    ) -> tuple[T, bool]:
        """``(result, shared)``: ``shared`` is True when another caller's call served it."""
        while (followers := self._inflight.get(key)) is not None:
            future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            followers.append(future)
            try:
                async with asyncio.timeout_at(deadline):
                    result = await future
            except _LeaderGone:
                continue
            except TimeoutError as exc:
                if future.done() and not future.cancelled():
                    raise  # the shared call itself failed with a timeout error
                raise DeadlineExceeded("coalesced", "waiting for an identical request") from exc
            self.coalesced += 1
            return result, True
        waiting: list[asyncio.Future[T]] = []
        self._inflight[key] = waiting
        try:
            result = await call()
        except BaseException as exc:
            del self._inflight[key]
            gone = isinstance(exc, asyncio.CancelledError)
            for future in waiting:
                if not future.done():
                    future.set_exception(_LeaderGone() if gone else exc)
            raise
        del self._inflight[key]
        for future in waiting:
            if not future.done():
                future.set_result(result)
        return result, False
