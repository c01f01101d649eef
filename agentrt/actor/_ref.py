"""``ActorRef``: the address of an actor.

A ref is an address (node + process id), never a handle on the actor object: it stays
valid and comparable after the actor dies, and every operation on a dead actor's ref
fails with ``ActorDead`` (``reason="noproc"``). A restarted actor has a new ref; look it up
by name (``node.whereis``) to follow restarts.

Sending to a dead actor raises, where Erlang's send would succeed silently: in one node
there is no network to excuse it, and a message nobody will handle should not vanish
without its sender knowing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agentrt.actor._calls import _Expired, end, outcome, post
from agentrt.actor._errors import ActorDead, MailboxFull
from agentrt.actor._mailbox import MailboxStats, wait_for_space
from agentrt.actor._process import CAST, INFO, mailbox_len
from agentrt.actor._signals import NOPROC

if TYPE_CHECKING:
    from agentrt.actor._node import Node

__all__ = ["ActorRef"]


class ActorRef:
    """The address of one actor on one node. Hashable; equal refs name the same actor."""

    __slots__ = ("_node", "_pid")

    def __init__(self, node: Node, pid: int) -> None:
        self._node = node
        self._pid = pid

    @property
    def node(self) -> Node:
        """The node the actor lives (or lived) on."""
        return self._node

    @property
    def pid(self) -> int:
        """The process id, unique within its node."""
        return self._pid

    @property
    def alive(self) -> bool:
        """True while the actor is alive."""
        return self._pid in self._node._procs

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other._pid == self._pid and other._node is self._node

    def __hash__(self) -> int:
        return self._pid

    def __repr__(self) -> str:
        proc = self._node._procs.get(self._pid)
        if proc is None:
            return f"<ActorRef #{self._pid} dead>"
        return f"<ActorRef {type(proc.actor).__qualname__}#{self._pid}>"

    # -- messaging -----------------------------------------------------------------------

    async def call(self, msg: Any, timeout: float | None = 5.0) -> Any:
        """Send ``msg`` to ``handle_call`` and wait for the reply.

        Raises ``CallTimeout`` (a ``TimeoutError``) after ``timeout`` seconds (default 5;
        None waits forever; the time spent waiting for mailbox space counts), and a reply
        arriving later is dropped. Raises ``ActorDead`` at once if the actor is not alive,
        or with the actor's exit reason if it dies before replying (its crash, for
        example). Raises ``MailboxFull`` if the mailbox is full and its policy rejects.
        An actor calling itself would deadlock: that raises ``ActorError``.
        """
        node = self._node
        caller, fut = post(node, self, msg, timeout)
        try:
            return await fut
        except _Expired as exc:
            raise outcome(exc, self, timeout, msg) from None
        finally:
            end(node, caller, timeout)

    async def cast(self, msg: Any) -> None:
        """Send ``msg`` to ``handle_cast`` without waiting for it to be handled.

        Waits only for mailbox space under the ``wait`` policy. Raises ``ActorDead`` if the
        actor is not alive (or dies while the sender waits), ``MailboxFull`` under
        ``reject``.
        """
        node = self._node
        proc = node._procs.get(self._pid)
        if proc is None:
            raise ActorDead(self, NOPROC)
        item = (CAST, msg)
        if node._mail.offer(proc, item):
            return
        fut: asyncio.Future[None] = node._loop.create_future()
        wait_for_space(proc, item, fut)
        await fut

    def cast_nowait(self, msg: Any) -> None:
        """Send ``msg`` to ``handle_cast`` without awaiting anything.

        Raises ``MailboxFull`` when the mailbox is full under ``wait`` or ``reject`` (drop
        policies drop and count instead), ``ActorDead`` if the actor is not alive.
        """
        self._put_nowait((CAST, msg))

    def send(self, msg: Any) -> None:
        """Send ``msg`` to ``handle_info`` without awaiting anything (like ``cast_nowait``)."""
        self._put_nowait((INFO, msg))

    def _put_nowait(self, item: tuple[Any, ...]) -> None:
        node = self._node
        proc = node._procs.get(self._pid)
        if proc is None:
            raise ActorDead(self, NOPROC)
        if not node._mail.offer(proc, item):
            raise MailboxFull(self, proc.capacity)

    def stats(self) -> MailboxStats:
        """The actor's mailbox statistics; raises ``ActorDead`` if it is not alive."""
        proc = self._node._procs.get(self._pid)
        if proc is None:
            raise ActorDead(self, NOPROC)
        return MailboxStats(
            depth=mailbox_len(proc.mbox),
            max_depth=proc.max_depth,
            dropped=proc.dropped,
            capacity=proc.capacity,
            overflow=proc.overflow,  # type: ignore[arg-type]
        )
