"""Mailbox configuration and statistics.

Every actor's mailbox is bounded. What happens when a user message (call, cast or info)
arrives at a full mailbox is the actor's overflow policy:

- ``"wait"`` (default): ``await ref.cast()`` / ``await ref.call()`` wait for space
  (backpressure); ``cast_nowait`` and ``send`` cannot wait and raise ``MailboxFull``.
- ``"reject"``: the sender gets ``MailboxFull`` at once.
- ``"drop_oldest"``: the oldest user message is discarded to make room (a discarded call's
  caller gets ``MailboxFull``); counted in ``drops``.
- ``"drop_newest"``: the arriving message is discarded (a call raises ``MailboxFull``);
  counted in ``drops``.

Exit signals, stop requests, monitor ``Down`` messages and timer messages travel on the
system lane: they ignore the capacity and are never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from agentrt.errors import ConfigError

__all__ = ["MailboxConfig", "MailboxStats", "Overflow"]

Overflow = Literal["wait", "reject", "drop_oldest", "drop_newest"]
_POLICIES: frozenset[str] = frozenset(get_args(Overflow))


@dataclass(frozen=True, kw_only=True, slots=True)
class MailboxConfig:
    """How an actor's mailbox is bounded.

    - ``capacity``: maximum number of queued user messages (default 1024).
    - ``overflow``: policy at capacity (default ``"wait"``, see module docs).

    Example::

        await node.spawn(Worker, mailbox=MailboxConfig(capacity=64, overflow="reject"))
    """

    capacity: int = 1024
    overflow: Overflow = "wait"

    def __post_init__(self) -> None:
        if type(self.capacity) is not int or self.capacity < 1:
            raise ConfigError("mailbox.capacity", f"must be an int >= 1, got {self.capacity!r}")
        if self.overflow not in _POLICIES:
            raise ConfigError(
                "mailbox.overflow", f"must be one of {sorted(_POLICIES)}, got {self.overflow!r}"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class MailboxStats:
    """A snapshot of one mailbox: current ``depth``, the ``max_depth`` seen, messages
    ``dropped`` by a drop policy, its ``capacity`` and ``overflow`` policy."""

    depth: int
    max_depth: int
    dropped: int
    capacity: int
    overflow: Overflow
