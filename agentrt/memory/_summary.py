"""Rolling summaries of sealed history, computed in the background.

A :class:`Summarizer` is any async callable ``(messages, previous) -> str``: it condenses
``messages`` (the oldest sealed chunks not yet summarized) together with the ``previous``
summary text (``None`` the first time) into new summary text. The agent layer wires the
LLM pool in; tests use :class:`agentrt.testing.ScriptedSummarizer`. This layer never
imports the LLM layer.

A :class:`Summary` always covers a prefix of the conversation: sealed chunks
``[0, end_chunk)`` = messages ``[0, end_message)``.

:class:`RollingSummary` schedules the work. After a seal, :meth:`RollingSummary.notify`
starts one background task (owned here) when at least ``after_chunks`` sealed chunks are not
covered; the task condenses up to ``max_chunks`` chunks per call until none are pending,
then exits, so an idle conversation owns no task. It never runs on the reply path. A call
that raises or exceeds ``timeout`` is retried after ``retry_base * 2**(failures-1)``
seconds, capped at ``retry_max`` (bounded backoff, forever until it succeeds or the
conversation closes); the chunks stay in place meanwhile, so a failed summary loses
nothing. :meth:`RollingSummary.aclose` cancels the task and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import msgspec

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.messages import Message, check_text

__all__ = ["RollingSummary", "Summarizer", "Summary", "SummaryConfig", "retry_delay"]

_log = logging.getLogger("agentrt.memory.summary")


class Summarizer(Protocol):
    """Condense ``messages`` (and the ``previous`` summary text, if any) into summary text."""

    async def __call__(self, messages: Sequence[Message], previous: str | None, /) -> str: ...


class Summary(msgspec.Struct, frozen=True, array_like=True):
    """Summary ``text`` of sealed chunks ``[0, end_chunk)``, i.e. messages ``[0, end_message)``."""

    text: str
    end_chunk: int
    end_message: int
    created_at: float = 0.0

    @property
    def chunks(self) -> range:
        """The chunk numbers this summary covers."""
        return range(self.end_chunk)


@dataclass(frozen=True, kw_only=True)
class SummaryConfig:
    """When and how summaries run.

    - ``after_chunks`` (4): start when this many sealed chunks are not yet summarized.
    - ``max_chunks`` (8): at most this many chunks condensed by one summarizer call.
    - ``timeout`` (120.0 s): a call taking longer counts as a failure.
    - ``retry_base`` (1.0 s) / ``retry_max`` (60.0 s): backoff after failures.

    Example: ``SummaryConfig(after_chunks=2, retry_max=10.0)``
    """

    after_chunks: Annotated[int, Bounds(low=1, high=1_000_000)] = 4
    max_chunks: Annotated[int, Bounds(low=1, high=1_000_000)] = 8
    timeout: Annotated[float, Bounds(low=0, open_low=True, high=86_400, unit=" s")] = 120.0
    retry_base: Annotated[float, Bounds(low=0, high=86_400, unit=" s")] = 1.0
    retry_max: Annotated[float, Bounds(low=0, high=86_400, unit=" s")] = 60.0

    def __post_init__(self) -> None:
        check_fields(self)  # NaN, inf, bools, negatives and the absurd
        if self.max_chunks < self.after_chunks:
            raise ConfigError("max_chunks", "must be >= after_chunks")
        if not 0 <= self.retry_base <= self.retry_max:
            raise ConfigError("retry_base", "must be within 0..retry_max")


def retry_delay(failures: int, base: float, cap: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures: ``base * 2**(n-1)``, capped."""
    if failures <= 0:
        return 0.0
    return min(cap, base * 2.0 ** min(failures - 1, 30))


ChunkReader = Callable[[int, int], Awaitable[list[Message]]]
SummaryListener = Callable[[Summary], Awaitable[None]]


class RollingSummary:
    """The summary state of one conversation and the one task that advances it."""

    __slots__ = (
        "_calls",
        "_consecutive",
        "_failures",
        "_idle",
        "_name",
        "_on_summary",
        "_read",
        "_sealed",
        "_task",
        "config",
        "last_error",
        "summarizer",
        "summary",
    )

    def __init__(
        self,
        summarizer: Summarizer | None,
        config: SummaryConfig,
        *,
        name: str,
        read_chunks: ChunkReader,
        on_summary: SummaryListener,
        summary: Summary | None = None,
    ) -> None:
        self.summarizer = summarizer
        self.config = config
        self.summary = summary
        self._name = name
        self._read = read_chunks
        self._on_summary = on_summary
        self._sealed = 0
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.Event | None = None  # while a task runs (made lazily: cheap idle)
        self._calls = 0
        self._failures = 0
        self._consecutive = 0
        self.last_error: str | None = None

    @property
    def covered(self) -> int:
        """Chunks covered by the summary."""
        return self.summary.end_chunk if self.summary else 0

    def notify(self, sealed_chunks: int) -> None:
        """There are now ``sealed_chunks`` chunks; start summarizing when due."""
        self._sealed = sealed_chunks
        if self.summarizer is None or self._task is not None:
            return
        if self._sealed - self.covered >= self.config.after_chunks:
            self._idle = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"agentrt-summary:{self._name}"
            )

    async def _run(self) -> None:
        try:
            while self._sealed - self.covered >= self.config.after_chunks:
                if await self._attempt():
                    self._consecutive = 0
                    continue
                delay = retry_delay(
                    self._consecutive, self.config.retry_base, self.config.retry_max
                )
                await asyncio.sleep(delay)
        finally:
            self._task = None
            idle, self._idle = self._idle, None
            if idle is not None:
                idle.set()

    async def _attempt(self) -> bool:
        assert self.summarizer is not None
        first = self.covered
        end = min(self._sealed, first + self.config.max_chunks)
        self._calls += 1
        try:
            messages = await self._read(first, end)
            previous = self.summary.text if self.summary else None
            async with asyncio.timeout(self.config.timeout):
                text = await self.summarizer(messages, previous)
            check_text("summary", text)  # stored in every head: it must encode
        except Exception as exc:
            self._failures += 1
            self._consecutive += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            _log.warning(
                "summary of %s chunks %d..%d failed (attempt %d): %s",
                self._name, first, end, self._consecutive, self.last_error,
            )  # fmt: skip
            return False
        stop = (self.summary.end_message if self.summary else 0) + len(messages)
        self.summary = Summary(text, end, stop, time.time())
        self.last_error = None
        try:
            await self._on_summary(self.summary)
        except Exception as exc:  # kept in memory; persisted with the next head write
            self._failures += 1
            self.last_error = f"storing the summary: {type(exc).__name__}: {exc}"
            _log.warning("summary of %s not stored: %s", self._name, self.last_error)
        return True

    async def wait_idle(self) -> None:
        """Wait until no summary work is pending or running (returns at once when idle)."""
        idle = self._idle
        if idle is not None:
            await idle.wait()

    def stats(self) -> dict[str, Any]:
        """Coverage, calls, failures, the last error and whether a task is running."""
        return {
            "summary_chunks": self.covered,
            "summary_messages": self.summary.end_message if self.summary else 0,
            "summary_calls": self._calls,
            "summary_failures": self._failures,
            "summary_last_error": self.last_error,
            "summary_running": self._task is not None,
        }

    async def aclose(self) -> None:
        """Cancel the task (if any) and wait for it. Idempotent."""
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
