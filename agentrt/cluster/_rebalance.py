"""Rebalancing: existing agents move, in bounded rounds, off nodes that hold too many.

Placement is sticky, so a node that joins only gets new agents. The rebalancer moves
existing ones to it (issue 18 §2), the way Akka's ``LeastShardAllocationStrategy`` (the
2.6.10 algorithm: optimal in one or two rounds, with an absolute and a relative limit per
round) and Orleans' activation rebalancer (a migration count limit per cycle) do.

**Who decides: each overloaded node sheds its own excess**, not one coordinator. Only an
agent's owner can move it safely (it passivates it, its snapshot saved, then gives up its
fenced directory entry: :meth:`ClusterNode.move`), so a coordinator would have to ask
owners to move agents (one more message kind) and be elected (a Redis lock with a TTL,
whose paused holder is one more zombie to fence). Every node reads the same load hash
every tick, and :func:`plan` splits a node's excess among the under-loaded nodes in
proportion to their deficits, so when several nodes shed at once the agents each target
receives add up to its deficit, not a multiple of it.

**A round** (every ``ClusterConfig.rebalance_ms``, 10 s by default, the period of Akka's
rebalance interval), on a node that serves, is not draining, hosts agents and sees no
draining node:

1. counts: each live placeable node's ``owned`` agents (the directory entries its
   incarnation holds, published in its load record every tick; ``agents`` for a node
   that does not publish it). No round until every one of those records was published
   after this node's previous round ended (its moves are not visible before: Akka starts
   no rebalance while one is in progress). "After" is judged without comparing clocks
   across machines: a record is fresh once it is newer than the one read by this node's
   first tick after the round;
2. :func:`plan`: nothing when this node holds at most ``(1 + rebalance_tolerance)``
   (1.15) times the mean; else its excess down to the mean (rounded up), split among the
   nodes under the mean by their deficits, and bounded by the round's limits: at most
   ``rebalance_max_moves`` (1,000, Akka's absolute limit) and ``rebalance_fraction``
   (0.25, its relative limit) of all the agents, both for the whole cluster: a node
   takes its excess's share of them (rounded up, so at least one);
3. moves that many agents (a random sample of those it holds, at most ``move_batch`` at
   once), each by :meth:`ClusterNode.move` to the target's incarnation (handed over
   under the next token; never live twice: passivated, snapshot saved, then handed
   over), then **activates** each on its new owner (one ``{"kind": "activate"}`` request:
   the new owner loads it from its snapshot now, so its next caller waits for no
   activation, and the new owner counts it at once);
4. **announces** the moves (one entry of the moves stream, every agent's new owner);
   every node reads the stream in its tick and updates the owners its callers cached, so
   a caller's next turn goes straight to the new owner. Akka's coordinator tells every
   region of a hand-off for the same reason. A caller that asks within a tick of the
   move is told ``NotHere`` by the old owner once and locates the agent again.

A round that moved anything counts in ``ClusterStats.rebalance_rounds`` (and its moves in
``rebalanced`` and ``moved``); the load record carries ``rebalance_rounds`` and
``rebalancing`` (1 while a round moves agents). A move
that fails on Redis leaves its agent where it was (tried again in a later round); a
turn of a moving agent waits for the move and then reaches the new owner, as in a drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agentrt._cancel import cancel_and_wait
from agentrt.cluster._errors import ClusterError, ClusterUnavailable
from agentrt.cluster._hosting import Owner

if TYPE_CHECKING:
    from agentrt.cluster._node import ClusterNode

__all__ = ["Rebalancer", "plan"]

_log = logging.getLogger("agentrt.cluster.rebalance")
_ACTIVATE_S = 10.0  # longest wait for a moved agent's activation on its new owner


def plan(
    counts: Mapping[str, int],
    me: str,
    *,
    tolerance: float = 0.15,
    max_moves: int = 1_000,
    fraction: float = 0.25,
) -> dict[str, int]:
    """How many of ``me``'s agents go to which node this round (module docs, step 2):
    ``counts`` holds every live node that hosts agents (``me`` included) and the agents
    it holds. Empty when ``me`` is within ``tolerance`` of the mean, or alone.

    >>> plan({"a": 100, "b": 0}, "a")
    {'b': 25}
    >>> plan({"a": 100, "b": 0}, "a", fraction=1.0)
    {'b': 50}
    """
    if me not in counts or len(counts) < 2:
        return {}
    total = sum(counts.values())
    mean = total / len(counts)
    mine = counts[me]
    if total == 0 or mine <= mean * (1 + tolerance):
        return {}
    target = math.ceil(mean)
    over = {n: c - target for n, c in counts.items() if c > mean * (1 + tolerance)}
    under = {n: target - c for n, c in counts.items() if c < target}
    if not under:
        return {}
    budget = min(max_moves, max(1, math.ceil(fraction * total)))  # the cluster's, per round
    mine_out = min(over[me], math.ceil(budget * over[me] / sum(over.values())))
    deficit = sum(under.values())
    shares = {n: mine_out * d / deficit for n, d in under.items()}
    out = {n: math.floor(s) for n, s in shares.items()}
    left = mine_out - sum(out.values())  # largest remainders first, never past a deficit
    names = sorted(under)  # ties: each shedder starts at its own place, so they spread
    turn = sorted(over).index(me)

    def order(n: str) -> tuple[float, int]:
        return (out[n] - shares[n], (names.index(n) - turn) % len(names))

    for n in sorted(shares, key=order):
        if left <= 0:
            break
        if out[n] < under[n]:
            out[n] += 1
            left -= 1
    return {n: k for n, k in sorted(out.items()) if k > 0}


class Rebalancer:
    """The rebalancing rounds of one node (module docs); made and started by
    :class:`ClusterNode` when ``config.rebalance`` is on."""

    def __init__(self, node: ClusterNode, *, rng: random.Random | None = None) -> None:
        self._node = node
        self._rng = rng or random.Random()
        self._task: asyncio.Task[None] | None = None
        self._reads_at_end = -1  # node.loads_read when the last round ended (-1: none)
        self._baseline: dict[str, float] | None = None  # each node's "at" read after it
        self.rounds = 0
        self.moves = 0
        #: whether a round is moving agents now (published in the load record)
        self.moving = False

    def start(self) -> None:
        """Start the rounds (owned: :meth:`aclose` stops them)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        """Stop the rounds (a round in progress is cancelled: its agents in flight stay
        where the move left them, each on exactly one node)."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _run(self) -> None:
        pause = self._node.config.rebalance_ms / 1000
        while True:
            await asyncio.sleep(pause)
            try:
                await self.round()
            except ClusterError as exc:
                _log.info("cluster node %r: rebalance round: %s", self._node.node_id, exc)
            except Exception:  # a bug: said once, and the rounds stop (moves stay safe)
                _log.exception("cluster node %r: the rebalance rounds crashed", self._node.node_id)
                return

    def counts(self) -> dict[str, int] | None:
        """The agents each live node that hosts agents holds (module docs, step 1); None
        when a round must not run now (a draining node, or a load not fresh yet)."""
        node = self._node
        view = node.membership.view
        if any(m.status == "draining" for m in view.members.values()):
            return None
        loads = node.loads()
        if self._reads_at_end >= 0:  # the last round's moves must show in every record
            if node.loads_read <= self._reads_at_end:
                return None  # no read of the load hash since the round ended
            if self._baseline is None:  # records read after the round: any newer one
                self._baseline = {n: load.get("at", 0.0) for n, load in loads.items()}
                return None  # was published after the round ended (no clocks compared)
        counts: dict[str, int] = {}
        for member in view.alive():
            load = loads.get(member.node_id)
            if load is None:
                return None
            seen = self._baseline.get(member.node_id) if self._baseline is not None else None
            if seen is not None and load.get("at", 0.0) <= seen:
                return None
            if not load.get("placeable", 1.0):
                continue
            counts[member.node_id] = int(load.get("owned", load.get("agents", 0.0)))
        return counts

    async def round(self) -> int:
        """One round now (module docs); the agents moved. ``ClusterUnavailable`` when
        Redis fails before any move."""
        node = self._node
        config = node.config
        if node.closed or node.draining or not node.membership.serving or not config.placeable:
            return 0
        counts = self.counts()
        if counts is None or node.node_id not in counts:
            return 0
        counts[node.node_id] = len(node.owned())  # our own figure is exact
        moves = plan(
            counts,
            node.node_id,
            tolerance=config.rebalance_tolerance,
            max_moves=config.rebalance_max_moves,
            fraction=config.rebalance_fraction,
        )
        if not moves:
            return 0
        view = node.membership.view
        owned = node.owned()
        picked = self._rng.sample(owned, min(len(owned), sum(moves.values())))
        jobs: list[tuple[str, Owner]] = []
        for target, k in moves.items():
            member = view.members.get(target)
            if member is None:
                continue
            jobs += [(agent_id, Owner(target, member.epoch, 0)) for agent_id in picked[:k]]
            picked = picked[k:]
        slots = asyncio.Semaphore(config.move_batch)
        self.moving = True  # until the moves are announced: a reader of the load hash
        try:  # that sees the round over sees the announcement too
            done = await asyncio.gather(*(self._move(a, to, slots) for a, to in jobs))
            try:
                await node.announce([a for (a, _), ok in zip(jobs, done, strict=True) if ok])
            except ClusterUnavailable as exc:  # callers find them through NotHere instead
                _log.info("cluster node %r: announcing moves: %s", node.node_id, exc)
        finally:
            self.moving = False
        moved = sum(done)
        self._reads_at_end, self._baseline = node.loads_read, None
        if moved:
            self.rounds += 1
            self.moves += moved
            node.count_rebalance(moved)
            _log.info("cluster node %r: rebalance round %d moved %d agents (%s)",
                      node.node_id, self.rounds, moved, counts)  # fmt: skip
        return moved

    async def _move(self, agent_id: str, to: Owner, slots: asyncio.Semaphore) -> bool:
        node = self._node
        async with slots:
            try:
                if not await node.move(agent_id, to, limit=node.config.drain_limit):
                    return False
            except ClusterUnavailable as exc:
                _log.warning("cluster node %r: moving %s failed: %s", node.node_id, agent_id, exc)
                return False
            with contextlib.suppress(ClusterError, TimeoutError):
                await node.activate_at(agent_id, _ACTIVATE_S)
            return True
