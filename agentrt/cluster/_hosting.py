"""What a cluster node and the runtime that hosts its agents say to each other: the
``Host`` protocol (implemented by ``agentrt.runtime._cluster.ClusterDirectory``), where an
agent lives (``Owner``) and a node's counters (``ClusterStats``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ChunkSend", "ChunkSink", "ClusterStats", "Host", "Owner"]

#: Receives the text deltas of a streamed turn on the caller's side.
ChunkSink = Callable[[str], None]
#: Sends one delta of a streamed turn from the owner's side.
ChunkSend = Callable[[str], Awaitable[None]]


class Host(Protocol):
    """What a node runs agents with (the runtime implements it)."""

    async def serve(
        self,
        agent_id: str,
        token: int,
        request: Mapping[str, Any],
        deadline: float | None,
        chunk: ChunkSend | None,
        msg_id: str,
    ) -> dict[str, Any]:
        """Run ``request`` (message ``msg_id``: the same id when a dead node's envelope
        is redelivered) on ``agent_id`` here under fencing ``token`` (``deadline`` in
        ``loop.time()``); the answer (errors encoded in it, never raised). A request
        ``{"kind": "activate"}`` (sent after a rebalance moved the agent here) activates
        it from its snapshot and answers ``{"ok": {}}``."""
        ...

    async def hand_off(self, agent_id: str, limit: float) -> None:
        """Stop ``agent_id`` here for a move: a turn in flight finishes (up to ``limit``
        seconds, then the agent is stopped anyway), its conversation is saved, and until
        :meth:`moved` no turn activates it here (callers wait, then find its new owner)."""
        ...

    def moved(self, agent_id: str) -> None:
        """The move of ``agent_id`` is over (released, handed to another node, or
        failed: then it is still this node's): wake the turns waiting for it."""
        ...

    def lost(self, epoch: int) -> None:
        """This node lost ``epoch``: stop every agent it held (their writes are stale)."""
        ...

    def load(self) -> Mapping[str, float]:
        """This node's load figures (``agents``, ``lag_ms``, ``overloaded``)."""
        ...


@dataclass(frozen=True, slots=True)
class Owner:
    """Where an agent lives: the owner incarnation and the token it holds."""

    node_id: str
    epoch: int
    token: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterStats:
    """Counters of one node: requests ``sent``/``served``, answers ``replayed`` from a
    record, ``not_here`` answers, ``forwarded`` from dead inboxes, ``fenced_out`` answers
    refused as stale, ``claims`` won for placements, agents ``moved`` away (released
    by a drain or handed to another node by a rebalance), ``rebalance_rounds`` that
    moved agents and the agents they moved (``rebalanced``; also in ``moved``)."""

    sent: int
    served: int
    replayed: int
    not_here: int
    forwarded: int
    fenced_out: int
    claims: int
    moved: int
    rebalance_rounds: int = 0
    rebalanced: int = 0
