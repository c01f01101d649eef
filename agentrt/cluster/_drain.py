"""Draining a node: it gives up every agent it holds, then may leave with nothing lost.

A drain starts with :meth:`ClusterNode.drain` (``agentrt node`` calls it on SIGTERM), or
when the node's tick reads its own record as ``"draining"`` (``agentrt node drain NODE``
marks it so through Redis). It takes effect at once:

1. the node's record is marked ``"draining"`` (again after a rejoin): placement skips it,
   on this node and on every other one as soon as it reads the members hash; a request
   for an agent placed here from an older view is refused (:meth:`ClusterNode.refuse`:
   the claim released, the caller told it moved, so it places it elsewhere);
2. with at most ``ClusterConfig.move_batch`` moves at once (a round is that many; a
   slow one does not hold up the next), each agent it holds is moved
   (:meth:`ClusterNode.move`): stopped here once its turn in flight is over
   (conversation saved), then its directory entry released by a token-checked script.
   Turns that reach a moving agent wait for the move and then go to its new owner,
   within their own deadlines;
3. once it holds nothing and serves nothing (or ``ClusterConfig.drain_limit`` seconds
   after the start: a turn still running then had its agent stopped, and fails), the
   drain is :meth:`Drain.done`. The node then leaves (the caller closes it); envelopes
   that reach its inbox later are forwarded by the others, like a dead node's.

A Redis failure during a round is retried on the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentrt.cluster._errors import ClusterUnavailable

if TYPE_CHECKING:
    from agentrt.cluster._node import ClusterNode

__all__ = ["Drain", "DrainStats"]

_log = logging.getLogger("agentrt.cluster.drain")


@dataclass(frozen=True, kw_only=True, slots=True)
class DrainStats:
    """A drain so far: agents ``held`` when it began, agents ``moved`` (released),
    ``rounds`` (``move_batch`` moves each, the last one partial), ``seconds`` since it
    started, ``done``, and ``rejoins``: how often the node lost its epoch meanwhile (its
    agents then went to the others by failover, not by a move: ``moved`` < ``held``)."""

    held: int
    moved: int
    rounds: int
    seconds: float
    done: bool
    rejoins: int


class Drain:
    """The drain of one node (module docs); made by :meth:`ClusterNode.drain`."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node
        self._finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._moved = self._rounds = self._done_moves = self._held = self._rejoins = 0
        self._started = self._ended = 0.0

    def start(self) -> None:
        """Start the drain task (owned: :meth:`aclose` stops it)."""
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        self._held = len(self._node.owned())
        self._rejoins = self._node.membership.stats().rejoins
        self._task = loop.create_task(self._run())

    async def done(self, timeout: float | None = None) -> DrainStats:
        """Wait until the node holds and serves nothing; its figures. ``TimeoutError``
        after ``timeout`` seconds (None: ``drain_limit`` bounds it)."""
        async with asyncio.timeout(timeout):
            await self._finished.wait()
        return self.stats()

    def stats(self) -> DrainStats:
        """The figures so far."""
        end = self._ended or asyncio.get_running_loop().time()
        return DrainStats(
            held=self._held,
            moved=self._moved,
            rounds=self._rounds,
            seconds=end - self._started,
            done=self._finished.is_set(),
            rejoins=self._node.membership.stats().rejoins - self._rejoins,
        )

    async def aclose(self) -> None:
        """Stop the drain task if it still runs."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _count(
        self, moving: dict[str, asyncio.Task[None]], agent_id: str, outcome: BaseException | bool
    ) -> None:
        """Count a finished move; a round is ``move_batch`` of them. A move that failed
        on Redis is tried again (its agent is still held); any other failure is a bug,
        raised."""
        moving.pop(agent_id, None)
        if isinstance(outcome, BaseException) and not isinstance(outcome, ClusterUnavailable):
            raise outcome
        if isinstance(outcome, BaseException):
            _log.warning("cluster node %r: moving %s failed: %s", self._node.node_id,
                         agent_id, outcome)  # fmt: skip
        else:
            self._moved += outcome
        self._done_moves += 1
        self._rounds = -(-self._done_moves // self._node.config.move_batch)

    async def _run(self) -> None:
        node = self._node
        config = node.config
        loop = asyncio.get_running_loop()
        until = self._started + config.drain_limit
        pause = config.renew_ms / 1000
        marked = 0  # the epoch marked draining
        _log.info("cluster node %r: draining %d agents", node.node_id, self._held)
        moving: dict[str, asyncio.Task[None]] = {}  # at most move_batch move at once
        finished: asyncio.Queue[tuple[str, BaseException | bool]] = asyncio.Queue()
        slots = asyncio.Semaphore(config.move_batch)

        async def move(agent_id: str) -> None:
            outcome: BaseException | bool = False
            try:
                async with slots:
                    left = max(0.0, until - loop.time())
                    outcome = await node.move(agent_id, limit=left)
            except Exception as exc:  # counted by the loop (a bug is raised there)
                outcome = exc
            finally:
                finished.put_nowait((agent_id, outcome))

        scan = 0.0  # when the agents held were last listed

        try:
            while loop.time() < until:
                try:
                    if node.membership.serving and marked != node.epoch:
                        await node.membership.mark("draining")
                        marked = node.epoch
                except ClusterUnavailable as exc:
                    _log.warning("cluster node %r: marking draining failed: %s", node.node_id, exc)
                    await asyncio.sleep(pause)
                    continue
                if not moving or loop.time() - scan >= pause:  # newcomers: placed just before
                    scan = loop.time()
                    for agent_id in node.owned():
                        if agent_id not in moving:
                            moving[agent_id] = loop.create_task(move(agent_id))
                if not moving:
                    if not node.busy():
                        break
                    await asyncio.sleep(min(pause, 0.05))
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, min(until - loop.time(), pause))):
                        self._count(moving, *await finished.get())
                        while not finished.empty():
                            self._count(moving, *finished.get_nowait())
        finally:
            for task in moving.values():
                task.cancel()
            self._ended = loop.time()
            self._finished.set()
        _log.info("cluster node %r: drained (%d agents moved in %d rounds, %.1f s)",
                  node.node_id, self._moved, self._rounds, self._ended - self._started)  # fmt: skip
