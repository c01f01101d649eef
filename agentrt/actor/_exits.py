"""What an actor's death does to the messages and callers it leaves (private).

``fail_callers`` answers every call the dead actor still held (queued, waiting for
mailbox space, in progress or deferred) with ``ActorDead`` and counts the casts and infos
that will never be handled; ``log_crash`` logs a crash once, with the actor and the
handler named; ``notify_exit`` then tells the rest of the node: timers dropped, names
released, exit waiters resolved, monitors fired (``Down``), links signalled.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agentrt.actor._errors import ActorDead
from agentrt.actor._process import CALL, INFO, TERMINATE, _Proc, mailbox_items
from agentrt.actor._signals import Down

if TYPE_CHECKING:
    from agentrt.actor._node import Node

__all__ = ["fail_callers", "log_crash", "notify_exit"]

_log = logging.getLogger("agentrt.actor")
# by item kind (agentrt.actor._process): CALL, CAST, INFO, EXIT, STOP, TERMINATE, CONTINUE
_HANDLERS = (
    "handle_call",
    "handle_cast",
    "handle_info",
    "handle_info",
    "stop",
    "terminate",
    "handle_continue",
)


def fail_callers(proc: _Proc, dead: ActorDead) -> int:
    """Fail every call ``proc`` held with ``dead``; empty its mailbox and waiting
    senders. Returns the casts and infos lost."""
    lost = 0
    mb, proc.mbox = proc.mbox, None
    for item in mailbox_items(mb):
        if item[0] == CALL:
            item[2]._fail(dead)
        elif item[0] <= INFO:
            lost += 1
    for item, fut in proc.putters or ():
        if fut is None:
            item[2]._fail(dead)
        elif not fut.done():
            fut.set_exception(dead)
    proc.putters = None
    cur = proc.current
    if cur is not None and cur[0] == CALL:
        cur[2]._fail(dead)
    if proc.ext is not None:
        for caller in proc.ext.deferred or ():
            caller._fail(dead)
    return lost


def log_crash(proc: _Proc, item: tuple[Any, ...] | None, exc: BaseException) -> None:
    """Log ``proc``'s crash in ``item``'s handler (None: in ``init``)."""
    if item is None:
        where = "init"
    elif item[0] >= TERMINATE:
        where = _HANDLERS[item[0]]
    else:
        where = f"{_HANDLERS[item[0]]}({type(item[1]).__name__})"
    actor = f"{type(proc.actor).__qualname__}#{proc.ref.pid}"
    # an exception whose class sets log_traceback = False says it all in one line
    trace = exc if getattr(exc, "log_traceback", True) else None
    extra = log_context(proc.actor)
    _log.error("actor %s crashed in %s: %r", actor, where, exc, exc_info=trace, extra=extra)


def log_context(actor: object) -> Mapping[str, Any] | None:
    """``actor.log_context()`` for a record about it (None when it has none, or when the
    hook fails: a log record is never lost to it)."""
    hook = getattr(actor, "log_context", None)
    if hook is None:
        return None
    try:
        extra: Mapping[str, Any] | None = hook()
    except Exception:
        return None
    return extra


def notify_exit(node: Node, proc: _Proc) -> None:
    """Tell everyone concerned that ``proc`` (already out of the table) exited."""
    reason = proc.exit_reason
    ref = proc.ref
    node._lost += fail_callers(proc, ActorDead(ref, reason))
    ext = proc.ext
    if ext is None:
        return
    for timer in ext.timers or ():
        timer._drop()
    for unique, key in ext.names or ():
        node.registry._drop(unique, key, ref.pid)
    for fut in ext.waiters or ():
        if not fut.done():
            fut.set_result(reason)
    procs = node._procs
    for mref, target_pid in (ext.monitoring or {}).items():
        target = procs.get(target_pid)
        if target is not None and target.ext is not None and target.ext.monitored_by:
            target.ext.monitored_by.pop(mref, None)
    for mref, watcher in (ext.monitored_by or {}).items():
        wp = procs.get(watcher.pid)
        if wp is not None:
            if wp.ext is not None and wp.ext.monitoring:
                wp.ext.monitoring.pop(mref, None)
            node._mail.push_system(wp, (INFO, Down(mref, ref, reason)))
    for pid in ext.links or ():
        other = procs.get(pid)
        if other is not None:
            if other.ext is not None and other.ext.links is not None:
                other.ext.links.discard(ref.pid)
            node._signal(other, ref, reason)
