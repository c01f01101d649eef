"""Running one tool call: a concurrency slot, a timeout, and the right executor.

- async tools run in the event loop (in the caller's task);
- sync tools run in a bounded thread pool (:class:`ThreadRunner`);
- resource tools run in their :class:`~agentrt.tools.ResourceExecutor`'s actor thread.

:func:`execute_tool` bounds the whole call (waiting for a slot included) by the timeout and
raises only tools-layer errors: ``ToolTimeout``, ``ToolBusy``, ``ResourceUnavailable``, or
``ToolExecutionError`` wrapping whatever the tool raised. ``CancelledError`` (the caller
gave up) propagates: an async tool is cancelled with it, a queued thread/resource job is
dropped, a running one finishes in its thread and its result is discarded. A slot is
released only when the work has really ended, so threads never exceed the limit.

Example::

    threads = ThreadRunner(max_threads=4)
    limiter = ToolLimiter("search", max_concurrency=2, max_waiting=100)
    value = await execute_tool(search_tool, {"q": "x"}, limiter=limiter, timeout=5.0,
                               threads=threads)
    await threads.aclose()
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from agentrt.deadline import earliest
from agentrt.errors import ConfigError
from agentrt.tools._errors import (
    ResourceUnavailable,
    ToolBusy,
    ToolExecutionError,
    ToolTimeout,
)
from agentrt.tools._tool import Tool

if TYPE_CHECKING:  # resource tools load pykka only when one is added
    from agentrt.tools._resource import ResourceExecutor

__all__ = ["ThreadRunner", "ToolLimiter", "execute_tool"]


class ToolLimiter:
    """``max_concurrency`` slots for one tool and at most ``max_waiting`` waiters."""

    def __init__(self, tool: str, max_concurrency: int, max_waiting: int) -> None:
        self.tool = tool
        self.max_concurrency = max_concurrency
        self.max_waiting = max_waiting
        self._sem = asyncio.Semaphore(max_concurrency)
        self._waiting = 0
        self._running = 0

    async def acquire(self) -> None:
        """Wait for a slot; ToolBusy at once when ``max_waiting`` calls already wait."""
        if self._sem.locked():
            if self._waiting >= self.max_waiting:
                raise ToolBusy(self.tool, self._waiting)
            self._waiting += 1
            try:
                await self._sem.acquire()
            finally:
                self._waiting -= 1
        else:
            await self._sem.acquire()
        self._running += 1

    def release(self) -> None:
        """Give a slot back."""
        self._running -= 1
        self._sem.release()

    def stats(self) -> dict[str, int]:
        """Slots in use, callers waiting, and the bounds."""
        return {
            "running": self._running,
            "waiting": self._waiting,
            "max_concurrency": self.max_concurrency,
            "max_waiting": self.max_waiting,
        }


class ThreadRunner:
    """A bounded thread pool for sync tools (``max_threads``, default 8)."""

    def __init__(self, max_threads: int = 8) -> None:
        if not isinstance(max_threads, int) or max_threads < 1:
            raise ConfigError("max_threads", f"must be an integer >= 1, got {max_threads!r}")
        self.max_threads = max_threads
        self._pool = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="agentrt-tool")
        self._submitted = 0
        self._closed = False

    async def run(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], on_done: Callable[[], None]
    ) -> Any:
        """Run ``fn(**kwargs)`` in the pool (context variables copied); ``on_done`` is called
        in the loop exactly once, when the work has ended or was dropped unstarted."""
        loop = asyncio.get_running_loop()
        if self._closed:
            on_done()
            raise ResourceUnavailable("threads", "the thread pool is closed")
        call = functools.partial(contextvars.copy_context().run, fn, **kwargs)
        cf = self._pool.submit(call)
        self._submitted += 1

        def finished(_: Future[Any]) -> None:
            try:
                loop.call_soon_threadsafe(on_done)
            except RuntimeError:
                pass  # loop closed

        cf.add_done_callback(finished)
        return await asyncio.wrap_future(cf)

    async def aclose(self) -> None:
        """Drop queued jobs; running ones finish in their threads (not awaited)."""
        self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def stats(self) -> dict[str, int]:
        """Jobs submitted and the pool size."""
        return {"submitted": self._submitted, "max_threads": self.max_threads}


async def execute_tool(
    tool: Tool,
    kwargs: dict[str, Any],
    *,
    limiter: ToolLimiter,
    timeout: float,
    threads: ThreadRunner,
    resource: ResourceExecutor[Any] | None = None,
    deadline: float | None = None,
) -> Any:
    """Run ``tool`` with validated ``kwargs`` (see the module docstring for the rules),
    within ``timeout`` seconds or by the caller's ``deadline`` (``loop.time()``),
    whichever comes first; ``ToolTimeout`` names the seconds it was given."""
    at = earliest(timeout, deadline)
    given = timeout if deadline is None else max(0.0, at - asyncio.get_running_loop().time())
    scope = asyncio.timeout_at(at)
    try:
        async with scope:
            await limiter.acquire()
            return await _dispatch(tool, kwargs, limiter, threads, resource)
    except TimeoutError:
        if scope.expired():
            raise ToolTimeout(tool.name, given) from None
        raise


async def _dispatch(
    tool: Tool,
    kwargs: dict[str, Any],
    limiter: ToolLimiter,
    threads: ThreadRunner,
    resource: ResourceExecutor[Any] | None,
) -> Any:
    if tool.is_async:
        try:
            return await tool.fn(**kwargs)
        except ResourceUnavailable:  # an MCP server down: "unavailable", not "exception"
            raise
        except Exception as exc:
            raise ToolExecutionError(tool.name, exc) from exc
        finally:
            limiter.release()
    try:
        if tool.resource is None:
            return await threads.run(tool.fn, kwargs, limiter.release)
        if resource is None:
            limiter.release()
            raise ResourceUnavailable(tool.resource, "no executor registered for it")
        return await resource.run(tool.fn, kwargs, limiter.release)
    except (ResourceUnavailable, ToolBusy):
        raise
    except Exception as exc:
        raise ToolExecutionError(tool.name, exc) from exc
