"""Turn routing: a user (or agent) turn from its caller to its agent and back.

``TurnRouter`` delivers ``Turn``s through a ``Directory`` (it never knows whether the
agent is local, passivated or, later, on another node), keeps the turn ledger behind
``Runtime.turn_stats()`` (every turn accepted is answered or failed back to its caller)
and runs the fire-and-forget turns of ``send_turn`` as owned tasks.

A turn's deadline is one absolute ``loop.time()`` fixed when the turn is accepted
(``agentrt.deadline``): the agent, the LLM pool and the tools all work to it.

Example::

    router = TurnRouter(directory, telemetry, call_margin_s=1.0)
    reply = await router.ask("a-1", "hello", timeout=10.0)
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agentrt.actor import NOPROC, NORMAL, ActorDead, ActorError, ActorRef, CallTimeout
from agentrt.agent import (
    AgentCrashed,
    AgentError,
    Reply,
    StreamSink,
    Turn,
    TurnError,
    TurnFailed,
    TurnTimeout,
)
from agentrt.agent._start import load_failure
from agentrt.agent._validate import check_turn
from agentrt.deadline import earliest, remaining
from agentrt.messages import Content, ContentPart, content_text
from agentrt.runtime._directory import Directory, _Relocated
from agentrt.runtime._handles import TurnStats, TurnStream
from agentrt.telemetry import Telemetry

__all__ = ["Answered", "RemoteTurns", "TurnRouter"]

_log = logging.getLogger("agentrt.runtime")
_DELIVERIES = 3  # attempts when the agent exits (passivated, restarting) before taking it
_RELOCATIONS = 16  # cluster: deliveries of one turn to an agent that keeps leaving its node


def _turn(content: Content, deadline: float | None, sender: str | None, **kw: Any) -> Turn:
    """A turn of checked ``content``: its text, and its parts when it has some."""
    if isinstance(content, str):
        return Turn(content, deadline, sender, **kw)
    return Turn(content_text(content), deadline, sender, parts=content, **kw)


@dataclass(frozen=True, slots=True)
class Answered:
    """What a remote ``call`` returned (None for a ``cast``)."""

    value: Any


class RemoteTurns(Protocol):
    """The cluster seam (``agentrt.runtime._cluster``): runs a turn at the agent's owner."""

    async def deliver(self, agent_id: str, turn: Turn) -> Reply | None:
        """The owner's reply (or its error, raised); None when the agent is this node's
        (the router takes the local path)."""
        ...

    def left(self, agent_id: str) -> bool:
        """Whether ``agent_id`` left this node (moving, or no longer held by it): a turn
        its local incarnation dropped is then delivered again, to its new owner."""
        ...

    async def message(
        self, agent_id: str, msg: Any, *, timeout: float | None, cast: bool
    ) -> Answered | None:
        """A plain ``call`` (``cast=False``) or ``cast`` of ``msg`` at the agent's owner:
        its answer (raised when an error); None when the agent is this node's."""
        ...


class TurnRouter:
    """Routes turns to agents through a directory and accounts for each of them.
    ``remote`` (cluster mode) is asked first where each turn runs."""

    def __init__(
        self,
        directory: Directory,
        telemetry: Telemetry,
        *,
        call_margin_s: float,
        remote: RemoteTurns | None = None,
    ):
        self._directory = directory
        self._remote = remote
        self._telemetry = telemetry
        self._margin = call_margin_s
        self._accepted = self._answered = self._failed = self._retried = 0
        self._failures: Counter[str] = Counter()
        self._background: set[asyncio.Task[None]] = set()

    # -- turns ---------------------------------------------------------------------------------

    async def ask(
        self,
        agent_id: str,
        text: str | Sequence[ContentPart],
        *,
        timeout: float | None = None,
        deadline_at: float | None = None,
        sender: str | None = None,
    ) -> Reply:
        """Send a user turn and return the reply (``Runtime.ask``)."""
        content = check_turn(text, sender)
        turn = _turn(content, earliest(timeout, deadline_at), sender, trace=self._trace_context())
        return await self.run(agent_id, turn)

    def stream(
        self,
        agent_id: str,
        text: str | Sequence[ContentPart],
        *,
        timeout: float | None = None,
        sender: str | None = None,
    ) -> TurnStream:
        """A streamed turn (``Runtime.stream``)."""
        content = check_turn(text, sender)
        sink = StreamSink()
        turn = _turn(content, earliest(timeout), sender, stream=sink, trace=self._trace_context())
        return TurnStream(self.run(agent_id, turn), sink)

    def send_turn(
        self,
        agent_id: str,
        text: str | Sequence[ContentPart],
        *,
        reply_to: ActorRef | None,
        sender: str | None,
        deadline_at: float | None,
        tag: Any,
    ) -> None:
        """Start a turn without waiting; its ``Reply`` or ``TurnError`` goes to
        ``reply_to`` (``Runtime.send_turn``)."""
        content = check_turn(text, sender)
        self._directory.check(agent_id)  # UnknownAgent, before anything is sent
        turn = _turn(content, deadline_at, sender, tag=tag, trace=self._trace_context())
        task = asyncio.get_running_loop().create_task(self._tell(agent_id, turn, reply_to))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        """Cancel the turns of ``send_turn`` in flight (each fails back to its sender)."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _trace_context(self) -> Any:
        """The caller's trace context for its turn to carry (None unless tracing)."""
        capture = self._telemetry.trace_context
        return capture() if capture is not None else None

    async def run(self, agent_id: str, turn: Turn) -> Reply:
        """Deliver ``turn`` and account for it (accepted, then answered or failed)."""
        self._accepted += 1
        try:
            reply = await self._deliver(agent_id, turn)
        except BaseException as exc:
            self._failed += 1
            self._failures[type(exc).__name__] += 1
            raise
        self._answered += 1
        return reply

    async def _deliver(self, agent_id: str, turn: Turn) -> Reply:
        remote = self._remote
        if remote is None:
            return await self.deliver_local(agent_id, turn)
        for _ in range(_RELOCATIONS):  # the agent left this node meanwhile: find it again
            reply = await remote.deliver(agent_id, turn)
            if reply is not None:
                return reply
            try:
                return await self.deliver_local(agent_id, turn)
            except _Relocated:
                self._retried += 1
        raise TurnFailed(agent_id, "the agent kept moving before it could take the turn")

    async def deliver_local(self, agent_id: str, turn: Turn) -> Reply:
        """Run ``turn`` on this node's agent ``agent_id`` (not counted in the ledger: a
        remote caller's node counts it). In cluster mode, ``_Relocated`` when the agent
        left this node before or while taking the turn (the turn did not run here)."""
        remote = self._remote
        for _ in range(_DELIVERIES):
            if remote is not None and remote.left(agent_id):
                raise _Relocated(agent_id)  # never activated here again: found elsewhere
            ref = await self._directory.resolve(agent_id)
            left = remaining(turn.deadline)
            timeout = None if left is None else left + self._margin
            try:
                result = await ref.call(turn, timeout=timeout)
            except ActorDead as exc:
                failed = self._start_failure(agent_id, ref, exc.reason)
                if failed is not None:  # its start failed: the caller gets why
                    raise failed from None
                if exc.reason in (NORMAL, NOPROC):  # passivated or restarting meanwhile
                    self._retried += 1
                    continue
                if remote is not None and remote.left(agent_id):
                    raise _Relocated(agent_id) from None  # stopped as it left: not a crash
                raise AgentCrashed(agent_id, exc.reason) from None
            except CallTimeout:
                raise TurnTimeout(agent_id) from None
            if isinstance(result, TurnError):
                raise result.error
            reply: Reply = result
            return reply
        raise TurnFailed(agent_id, "the agent kept exiting before it could take the turn")

    def _start_failure(self, agent_id: str, ref: ActorRef, reason: Any) -> BaseException | None:
        """Why incarnation ``ref`` of ``agent_id`` failed to start, if it did: from its exit
        reason, or (when it was already gone as the turn was posted) from its slot."""
        failed = load_failure(reason)
        if failed is None and reason == NOPROC:
            slot = self._directory.slot(agent_id)
            if slot is not None and slot.ref == ref:
                failed = slot.failed
        return failed

    async def _tell(self, agent_id: str, turn: Turn, reply_to: ActorRef | None) -> None:
        result: Reply | TurnError
        try:
            result = await self.run(agent_id, turn)
        except AgentError as exc:
            result = TurnError(agent_id, exc, turn.tag)
        except Exception as exc:
            result = TurnError(agent_id, TurnFailed(agent_id, exc), turn.tag)
        if reply_to is not None:
            try:
                reply_to.send(result)
            except ActorError:
                _log.info(
                    "reply to %r of a turn of %r dropped: it is gone",
                    reply_to,
                    agent_id,
                    extra={"agent_id": agent_id},
                )

    # -- plain messages ------------------------------------------------------------------------

    async def call(self, agent_id: str, msg: Any, *, timeout: float | None = 5.0) -> Any:
        """``call`` agent ``agent_id`` with a plain message (its ``handle_call``),
        wherever it lives (cluster mode: ``msg`` and the reply cross nodes as plain
        data, ``agentrt.cluster._payload``)."""
        if self._remote is None:  # one node: straight to the agent
            return await (await self._directory.resolve(agent_id)).call(msg, timeout=timeout)
        return await self._message(agent_id, msg, timeout, cast=False)

    async def cast(self, agent_id: str, msg: Any) -> None:
        """``cast`` a plain message to agent ``agent_id`` (its ``handle_cast``), wherever
        it lives (in cluster mode, once its owner accepted it into the mailbox)."""
        if self._remote is None:
            await (await self._directory.resolve(agent_id)).cast(msg)
            return
        await self._message(agent_id, msg, None, cast=True)

    async def _message(self, agent_id: str, msg: Any, timeout: float | None, *, cast: bool) -> Any:
        """A ``call``/``cast`` in cluster mode: at the agent's owner, or here."""
        remote = self._remote
        assert remote is not None
        for _ in range(_RELOCATIONS):  # it left this node meanwhile: find it again
            answered = await remote.message(agent_id, msg, timeout=timeout, cast=cast)
            if answered is not None:
                return answered.value
            if not remote.left(agent_id):
                break
        else:
            raise TurnFailed(agent_id, "the agent kept moving before it took the message")
        if cast:
            return await self.cast_local(agent_id, msg)
        return await self.call_local(agent_id, msg, timeout=timeout)

    async def call_local(self, agent_id: str, msg: Any, *, timeout: float | None = 5.0) -> Any:
        """``call`` this node's agent ``agent_id`` (never another node's)."""
        return await (await self._directory.resolve(agent_id)).call(msg, timeout=timeout)

    async def cast_local(self, agent_id: str, msg: Any) -> None:
        """``cast`` to this node's agent ``agent_id`` (never another node's)."""
        await (await self._directory.resolve(agent_id)).cast(msg)

    # -- the ledger ----------------------------------------------------------------------------

    def stats(self) -> TurnStats:
        """Turns accepted, answered, failed (by error type), in flight and lost."""
        return TurnStats(
            accepted=self._accepted,
            answered=self._answered,
            failed=self._failed,
            retried=self._retried,
            failures=dict(self._failures),
        )
