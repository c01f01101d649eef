"""Stopping background tasks that a library call may keep alive past one cancel.

``await cancel_and_wait(task, ...)`` cancels each task and waits for it to end. A task
whose cancel was swallowed inside a library call (seen with redis-py's connection
handling under a Redis restart or a cut connection: the renew loop then went on, and
``aclose`` waited on it until the test's 120 s timeout) is cancelled again every
``retry_s`` (0.5 s); after ``give_up_s`` (10 s) the still-running tasks are left
behind with a WARNING naming them, so a close always ends. The outcome of each task is
returned, in order: ``None`` when it ended normally or by the cancel, its exception
when it had failed, ``TimeoutError`` for one left behind.

Example::

    outcomes = await cancel_and_wait(renew_task, tick_task)
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["cancel_and_wait"]

_log = logging.getLogger("agentrt.tasks")


async def cancel_and_wait(
    *tasks: asyncio.Task[object] | asyncio.Future[object],
    retry_s: float = 0.5,
    give_up_s: float = 10.0,
) -> list[BaseException | None]:
    """Cancel ``tasks`` and wait for them (see the module docs); never raises for what a
    task raised, but a cancel of the caller itself propagates."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_s
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            _log.warning(
                "%d task(s) did not end within %.1f s of being cancelled: left behind (%s)",
                len(pending), give_up_s, ", ".join(sorted(map(_name, pending))),
            )  # fmt: skip
            break
        _, pending = await asyncio.wait(pending, timeout=min(retry_s, left))
    return [_outcome(t) for t in tasks]


def _name(task: asyncio.Future[object]) -> str:
    return task.get_name() if isinstance(task, asyncio.Task) else repr(task)


def _outcome(task: asyncio.Future[object]) -> BaseException | None:
    if not task.done():
        return TimeoutError(f"{_name(task)} still running after its cancel")
    if task.cancelled():
        return None
    return task.exception()
