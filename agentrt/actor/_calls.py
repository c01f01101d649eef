"""Calls: the one path of a request and its reply (private to the actor core).

``ActorRef.call`` and ``Node.multi_call`` (``multi_call`` here) both ``post`` a call
(check the target, arm its timeout on the node's deadline wheel, queue it: the time
spent waiting for mailbox space counts against the timeout), await the caller's future,
then ``end`` it (disarm; a late reply is dropped). A timeout sets ``_Expired`` on the
future, which ``outcome`` turns into ``CallTimeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from agentrt.actor._actor import Caller
from agentrt.actor._errors import ActorDead, ActorError, CallTimeout
from agentrt.actor._mailbox import wait_for_space
from agentrt.actor._process import CALL
from agentrt.actor._signals import NOPROC

if TYPE_CHECKING:
    from agentrt.actor._node import Node
    from agentrt.actor._ref import ActorRef

__all__ = ["end", "multi_call", "outcome", "post"]


class _Expired(Exception):
    """Set on a call's future by the deadline wheel; turned into CallTimeout."""


def post(
    node: Node, ref: ActorRef, msg: Any, timeout: float | None
) -> tuple[Caller, asyncio.Future[Any]]:
    """Queue a call of ``msg`` to ``ref`` with its timeout armed; returns its caller and
    the future its reply (or failure) arrives on.

    Raises ``ActorDead`` (not alive), ``ActorError`` (an actor calling itself would
    deadlock) or ``MailboxFull`` (its policy refuses); nothing stays armed then."""
    proc = node._procs.get(ref._pid) if ref._node is node else None
    if proc is None:
        raise ActorDead(ref, NOPROC)
    current = node._current
    if proc is current:
        raise ActorError(f"{ref!r} called itself: that would deadlock", ref)
    fut: asyncio.Future[Any] = node._loop.create_future()
    caller = Caller(fut, current.ref if current is not None else None)
    if timeout is not None:
        node._deadlines.add(caller, timeout)
    item = (CALL, msg, caller)
    try:
        if not node._mail.offer(proc, item):
            wait_for_space(proc, item, None)
    except BaseException:
        end(node, caller, timeout)
        raise
    return caller, fut


def end(node: Node, caller: Caller, timeout: float | None) -> None:
    """The caller stopped waiting: disarm its timeout; a later reply is dropped."""
    caller._fut = None
    if timeout is not None:
        node._deadlines.discard(caller)


def outcome(error: BaseException, ref: ActorRef, timeout: float | None, msg: Any) -> BaseException:
    """The exception a caller sees for ``error`` set on its future."""
    if isinstance(error, _Expired):
        return CallTimeout(ref, timeout or 0.0, msg)
    return error


async def multi_call(
    node: Node, refs: Sequence[ActorRef], msg: Any, timeout: float | None
) -> list[Any]:
    """``Node.multi_call``: post every call, then await the replies together; one entry
    per ref, the reply or the exception its call would have raised."""
    results: list[Any] = [None] * len(refs)
    pending: list[tuple[int, Caller, asyncio.Future[Any]]] = []
    for i, ref in enumerate(refs):
        try:
            caller, fut = post(node, ref, msg, timeout)
        except ActorError as exc:  # dead, a call to itself, mailbox full
            results[i] = exc
            continue
        pending.append((i, caller, fut))
    try:
        if pending:
            await asyncio.gather(*(f for _, _, f in pending), return_exceptions=True)
    finally:
        for i, caller, fut in pending:
            end(node, caller, timeout)
            if not fut.done() or fut.cancelled():
                continue
            error = fut.exception()
            results[i] = fut.result() if error is None else outcome(error, refs[i], timeout, msg)
    return results
