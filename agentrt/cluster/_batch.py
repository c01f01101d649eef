"""``Batcher``: the Redis commands of concurrent turns, sent as one pipeline.

Many turns in flight on one node each send one command at a time (a caller's ``XADD`` of
its envelope, an owner's fenced answer record). Sent alone, each costs a pooled
connection, a write system call and a read; :meth:`Batcher.call` instead queues the
command and, at the next turn of the event loop, one task sends everything queued as a
single non-transactional pipeline and hands each caller its own result. A lone command
waits for nothing more than one loop iteration; under load, dozens share a round trip.

Failure modes: a command's own error (``ResponseError``, e.g. ``NOSCRIPT``) is raised to
its caller only; an error of the whole pipeline (the connection failed: ``RedisError``,
``OSError``) is raised to every caller of that batch, exactly as if each had sent its
command alone. Each command stays atomic on its own (a script is one step); nothing
makes two commands of one batch atomic together, and nothing needs to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

__all__ = ["Batcher"]

#: Queues one command on the pipeline it is given.
Queue = Callable[[Pipeline], object]


class Batcher:
    """Sends the commands queued during one event-loop iteration as one pipeline."""

    __slots__ = ("_client", "_queued", "_tasks")

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._queued: list[tuple[Queue, asyncio.Future[Any]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, queue: Queue) -> Any:
        """The result of the one command ``queue`` puts on the pipeline (its error,
        raised; see the module docs)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queued.append((queue, fut))
        if len(self._queued) == 1:  # the first of this iteration: flush after it
            task = loop.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await fut

    async def _flush(self) -> None:
        batch, self._queued = self._queued, []
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for queue, _ in batch:
                    queue(pipe)
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the whole batch failed: every caller sees it
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            if not isinstance(exc, Exception):
                raise
            return
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():  # its caller gave up (cancelled): nothing to hand over
                continue
            if isinstance(result, Exception):
                fut.set_exception(result)
            else:
                fut.set_result(result)
