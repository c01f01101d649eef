"""Caller-side handles: ``AgentRef`` (an agent by id), ``TurnStream``, ``TurnStats``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from agentrt.agent import Reply, StreamSink

if TYPE_CHECKING:
    from agentrt.actor import ActorRef
    from agentrt.runtime._runtime import Runtime

__all__ = ["AgentRef", "TurnStats", "TurnStream"]


@dataclass(frozen=True)
class TurnStats:
    """User turns through ``ask``/``stream``: ``accepted`` = ``answered`` + ``failed`` +
    ``in_flight``; ``lost`` counts turns unaccounted for (always 0 unless there is a bug).
    ``retried``: deliveries repeated because the agent was passivated or restarting
    meanwhile (transparent to the caller). ``failures``: failed turns by error type."""

    accepted: int
    answered: int
    failed: int
    retried: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    in_flight: int = -1

    def __post_init__(self) -> None:
        if self.in_flight < 0:
            object.__setattr__(self, "in_flight", self.accepted - self.answered - self.failed)

    @property
    def lost(self) -> int:
        """Turns neither answered, failed nor in flight (must be 0)."""
        return self.accepted - self.answered - self.failed - self.in_flight

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["lost"] = self.lost
        return out


class TurnStream:
    """The text deltas of one streamed turn, then its ``reply``.

    Iterate it once; leaving the loop early cancels the turn's delivery to this reader
    (the agent finishes the turn and stores it).
    """

    def __init__(self, turn: Coroutine[Any, Any, Reply], sink: StreamSink) -> None:
        self._turn = turn
        self._sink = sink
        self.reply: Reply | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str]:
        sink = self._sink
        task = asyncio.ensure_future(self._turn)
        task.add_done_callback(lambda _: sink.end())  # ends the stream even if the agent died
        try:
            while True:
                delta = await sink.get()
                if delta is None:
                    break
                yield delta
            self.reply = await task
        finally:
            sink.close_reader()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)


class AgentRef:
    """Agent ``id`` of a runtime: survives passivation and restarts (unlike an
    ``ActorRef``, which names one incarnation)."""

    __slots__ = ("id", "runtime")

    def __init__(self, runtime: Runtime, agent_id: str) -> None:
        self.runtime = runtime
        self.id = agent_id

    async def ask(self, text: str, *, timeout: float | None = None) -> Reply:
        """``Runtime.ask`` to this agent."""
        return await self.runtime.ask(self.id, text, timeout=timeout)

    def stream(self, text: str, *, timeout: float | None = None) -> TurnStream:
        """``Runtime.stream`` to this agent."""
        return self.runtime.stream(self.id, text, timeout=timeout)

    async def call(self, msg: Any, *, timeout: float | None = 5.0) -> Any:
        """A plain ``call`` (the agent's ``handle_call``)."""
        return await self.runtime.call(self.id, msg, timeout=timeout)

    async def cast(self, msg: Any) -> None:
        """A plain ``cast`` (the agent's ``handle_cast``)."""
        await self.runtime.cast(self.id, msg)

    async def passivate(self, *, force: bool = False) -> bool:
        """``Runtime.passivate`` this agent."""
        return await self.runtime.passivate(self.id, force=force)

    @property
    def actor(self) -> ActorRef | None:
        """The current incarnation's actor ref, or None (passivated)."""
        slot = self.runtime.directory.slot(self.id)
        return slot.ref if slot is not None and slot.ref is not None and slot.ref.alive else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgentRef) and other.id == self.id and other.runtime is self.runtime

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"AgentRef({self.id!r})"
