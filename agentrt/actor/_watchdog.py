"""Loop-lag measurement and the blocked-loop watchdog.

asyncio cannot preempt a handler that blocks the loop (a CPU-bound loop, a synchronous
HTTP call), so the runtime makes it visible instead:

- **Loop lag**: a timer ticks every ``interval`` seconds on the loop; how late each tick
  runs is the loop's lag (last, max, and an exponentially weighted mean).
- **Slow handler**: a watchdog thread checks the ticks. When none has run for longer than
  ``slow_threshold``, the loop is blocked; the thread reads which actor is running and
  what message it is handling, and logs one warning per blocked episode naming both (a
  thread can observe the loop while it is stuck; a callback on the loop could only report
  afterwards). Each episode is counted and the last one kept in ``stats()``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentrt.actor._exits import log_context
from agentrt.actor._process import TERMINATE

if TYPE_CHECKING:
    from agentrt.actor._node import Node

__all__ = ["BlockedEpisode", "LoopStats"]

_log = logging.getLogger("agentrt.actor")


@dataclass(frozen=True, slots=True)
class BlockedEpisode:
    """One time the loop was seen blocked: by which ``actor`` (its repr, or "non-actor
    code"), handling which ``message_type``, and for at least ``seconds``."""

    actor: str
    message_type: str
    seconds: float


@dataclass(frozen=True, slots=True)
class LoopStats:
    """Loop health: lag in seconds (``lag_last``, ``lag_max``, ``lag_mean`` as an EWMA),
    number of ``blocked_episodes`` and the ``last_blocked`` one."""

    lag_last: float
    lag_max: float
    lag_mean: float
    blocked_episodes: int
    last_blocked: BlockedEpisode | None


class LoopWatch:
    """The lag ticker and watchdog thread of one node (private to the node)."""

    def __init__(self, node: Node, *, interval: float, slow_threshold: float) -> None:
        self._node = node
        self._interval = interval
        self._threshold = slow_threshold
        self._handle: asyncio.TimerHandle | None = None
        self._expected = 0.0
        self._beat = time.monotonic()
        self.lag_last = 0.0
        self.lag_max = 0.0
        self.lag_mean = 0.0
        self.episodes = 0
        self.last: BlockedEpisode | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, watchdog: bool) -> None:
        loop = self._node._loop
        self._expected = loop.time() + self._interval
        self._handle = loop.call_at(self._expected, self._tick)
        if watchdog:
            self._thread = threading.Thread(
                target=self._watch, name="agentrt-watchdog", daemon=True
            )
            self._thread.start()

    def _tick(self) -> None:
        loop = self._node._loop
        now = loop.time()
        lag = max(0.0, now - self._expected)
        self.lag_last = lag
        if lag > self.lag_max:
            self.lag_max = lag
        self.lag_mean += (lag - self.lag_mean) * 0.1
        self._beat = time.monotonic()
        self._expected = now + self._interval
        self._handle = loop.call_at(self._expected, self._tick)

    def _watch(self) -> None:
        reported_beat = -1.0
        while not self._stop.wait(self._interval):
            beat = self._beat
            stalled = time.monotonic() - beat - self._interval
            if stalled > self._threshold and beat != reported_beat:
                reported_beat = beat
                self._report(stalled)

    def _report(self, stalled: float) -> None:
        proc = self._node._current
        item = proc.current if proc is not None else None
        actor = repr(proc.ref) if proc is not None else "non-actor code"
        if item is None:
            msg_type = "-"
        else:
            msg_type = "terminate" if item[0] == TERMINATE else type(item[1]).__name__
        episode = BlockedEpisode(actor=actor, message_type=msg_type, seconds=stalled)
        self.episodes += 1
        self.last = episode
        _log.warning(
            "event loop of node %r blocked for over %.3fs by %s handling %s",
            self._node.name,
            stalled,
            actor,
            msg_type,
            extra=log_context(proc.actor) if proc is not None else None,
        )

    def stats(self) -> LoopStats:
        return LoopStats(
            lag_last=self.lag_last,
            lag_max=self.lag_max,
            lag_mean=self.lag_mean,
            blocked_episodes=self.episodes,
            last_blocked=self.last,
        )

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
