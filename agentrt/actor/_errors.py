"""Errors raised by the actor core.

::

    AgentRTError
    └── ActorError
        ├── ActorDead (LookupError)        the actor is not alive: ``reason`` is "noproc" when
        │                                  it was already gone, else the reason it exited
        │                                  with before answering (its crash, ``killed``...)
        ├── CallTimeout (TimeoutError)     no reply within the call's timeout
        ├── StopTimeout (TimeoutError)     the actor did not stop within ``stop``'s timeout
        ├── MailboxFull                    the mailbox is at capacity and the policy rejects
        ├── InitError                      ``init`` raised (``reason`` is the exception) or
        │                                  returned ``Stop(reason)``
        ├── Ignored                        ``init`` returned ``IGNORE``: no actor was started
        ├── NameTaken (KeyError)           a unique registry name is already registered
        ├── NodeClosed (RuntimeError)      the node is shutting down or closed
        └── ActorDefinitionError (TypeError)  an Actor subclass defines a hook wrongly
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentrt.errors import AgentRTError

if TYPE_CHECKING:
    from agentrt.actor._ref import ActorRef

__all__ = [
    "ActorDead",
    "ActorDefinitionError",
    "ActorError",
    "CallTimeout",
    "Ignored",
    "InitError",
    "MailboxFull",
    "NameTaken",
    "NodeClosed",
    "StopTimeout",
]


class ActorError(AgentRTError):
    """Base class of actor-core errors; ``actor`` is the ref concerned (may be None)."""

    def __init__(self, message: str, actor: ActorRef | None = None) -> None:
        super().__init__(message)
        self.actor = actor


class ActorDead(ActorError, LookupError):
    """The actor is not alive.

    ``reason`` is ``"noproc"`` when it was not alive when the request was made, otherwise the
    exit reason it died with before answering (the exception that crashed it, ``"killed"``,
    ``"shutdown"``...).
    """

    def __init__(self, actor: ActorRef | None, reason: Any = "noproc") -> None:
        super().__init__(f"{actor!r} is not alive (reason: {reason!r})", actor)
        self.reason = reason


class CallTimeout(ActorError, TimeoutError):
    """A ``call`` got no reply within its timeout. A reply arriving later is dropped."""

    def __init__(self, actor: ActorRef | None, timeout: float, message: Any = None) -> None:
        what = type(message).__name__
        super().__init__(f"call to {actor!r} ({what}) timed out after {timeout:g}s", actor)
        self.timeout = timeout


class StopTimeout(ActorError, TimeoutError):
    """The actor did not finish stopping within ``stop``'s timeout (it keeps running)."""

    def __init__(self, actor: ActorRef | None, timeout: float) -> None:
        super().__init__(f"{actor!r} did not stop within {timeout:g}s", actor)
        self.timeout = timeout


class MailboxFull(ActorError):
    """The mailbox is at capacity and its overflow policy rejects the message."""

    def __init__(self, actor: ActorRef | None, capacity: int) -> None:
        super().__init__(f"mailbox of {actor!r} is full (capacity {capacity})", actor)
        self.capacity = capacity


class InitError(ActorError):
    """The actor's ``init`` raised (``reason`` is the exception) or returned
    ``Stop(reason)``; the actor exited with ``reason``."""

    def __init__(self, actor: ActorRef | None, reason: Any) -> None:
        super().__init__(f"init of {actor!r} failed: {reason!r}", actor)
        self.reason = reason


class Ignored(ActorError):
    """The actor's ``init`` returned ``IGNORE``: nothing was started."""

    def __init__(self, actor: ActorRef | None) -> None:
        super().__init__(f"init of {actor!r} returned IGNORE", actor)


class NameTaken(ActorError, KeyError):
    """A unique name is already registered; ``owner`` is the ref holding it."""

    def __init__(self, name: Any, owner: ActorRef | None) -> None:
        super().__init__(f"name {name!r} is already registered to {owner!r}", owner)
        self.name = name
        self.owner = owner

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class NodeClosed(ActorError, RuntimeError):
    """The node is shutting down or closed; no actor can be spawned or reached."""


class ActorDefinitionError(ActorError, TypeError):
    """An ``Actor`` subclass is defined wrongly (a hook that is not ``async def``), raised
    when the class statement runs; ``cls`` names the class and ``hook`` the hook (there is
    no actor yet: ``actor`` is None)."""

    def __init__(self, cls: str, hook: str, problem: str) -> None:
        super().__init__(f"{cls}.{hook} {problem}")
        self.cls = cls
        self.hook = hook
