"""Exit reasons and the messages the runtime delivers: ``Exit``, ``Down``.

Exit reasons follow OTP:

- ``"normal"``: the actor finished. Does not propagate over links.
- ``"shutdown"`` or ``("shutdown", term)``: stopped by its supervisor or owner. Propagates
  over links like any non-normal reason, but is not a crash (not logged, and a
  ``transient`` child is not restarted).
- ``"killed"``: the actor was killed (``Node.kill``); the kill itself cannot be trapped,
  but linked actors receive the reason ``"killed"`` as an ordinary exit signal.
- ``"noproc"``: reported by a monitor set on an actor that was already dead.
- any exception: the actor crashed with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from agentrt.actor._ref import ActorRef

__all__ = [
    "KILLED",
    "NOPROC",
    "NORMAL",
    "SHUTDOWN",
    "Down",
    "Exit",
    "ExitReason",
    "MonitorRef",
    "is_crash",
    "is_shutdown",
]

NORMAL: Final = "normal"
SHUTDOWN: Final = "shutdown"
KILLED: Final = "killed"
NOPROC: Final = "noproc"

#: An exit reason: one of the strings above, ``("shutdown", term)``, an exception, or any
#: other term a user passes to ``stop``/``exit`` (treated as abnormal).
ExitReason = Any


def is_shutdown(reason: ExitReason) -> bool:
    """True for ``normal``, ``shutdown`` and ``("shutdown", term)``: the reasons a
    ``transient`` child is not restarted for."""
    if reason in (NORMAL, SHUTDOWN):
        return True
    return type(reason) is tuple and len(reason) == 2 and reason[0] == SHUTDOWN


def is_crash(reason: ExitReason) -> bool:
    """True when the reason is abnormal: anything but ``is_shutdown`` reasons."""
    return not is_shutdown(reason)


class MonitorRef:
    """Identifies one monitor; delivered back in the ``Down`` message it produces."""

    __slots__ = ("_id", "_target", "_watcher")

    def __init__(self, ident: int, watcher: int, target: int) -> None:
        self._id = ident
        self._watcher = watcher
        self._target = target

    def __repr__(self) -> str:
        return f"MonitorRef({self._id})"


@dataclass(frozen=True, slots=True)
class Exit:
    """An exit signal received as a message by an actor that traps exits.

    ``sender`` is the actor whose exit signal it was (a linked actor that died, or the
    actor that called ``exit``); ``reason`` its reason.
    """

    sender: ActorRef | None
    reason: ExitReason


@dataclass(frozen=True, slots=True)
class Down:
    """Delivered to a monitoring actor when the monitored ``actor`` exits.

    ``reason`` is ``"noproc"`` when the actor was already dead when the monitor was set.
    """

    monitor: MonitorRef
    actor: ActorRef
    reason: ExitReason
