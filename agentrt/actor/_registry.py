"""A node's registry: unique names and groups (duplicate keys) of actors.

Entries disappear when their actor dies. Names are any hashable value.

Example::

    node.registry.register("db", ref)       # NameTaken if another live actor has it
    node.whereis("db")                      # -> ref, or None
    node.registry.join("workers", w1)
    node.registry.join("workers", w2)
    node.registry.members("workers")        # -> [w1, w2] in join order
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

from agentrt.actor._errors import ActorDead, NameTaken

if TYPE_CHECKING:
    from agentrt.actor._node import Node
    from agentrt.actor._process import _Proc
    from agentrt.actor._ref import ActorRef

__all__ = ["Registry"]


class Registry:
    """Unique names and groups of one node's actors."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._names: dict[Hashable, int] = {}
        self._groups: dict[Hashable, dict[int, None]] = {}

    def _proc(self, ref: ActorRef) -> _Proc:
        proc = self._node._procs.get(ref.pid) if ref.node is self._node else None
        if proc is None:
            raise ActorDead(ref)
        return proc

    def register(self, name: Hashable, ref: ActorRef) -> None:
        """Give ``ref`` the unique ``name``. Raises ``NameTaken`` if a live actor holds it,
        ``ActorDead`` if ``ref`` is not alive."""
        self._claim(name, self._proc(ref))

    def _claim(self, name: Hashable, proc: _Proc) -> None:
        owner = self._names.get(name)
        if owner is not None:
            holder = self._node._procs.get(owner)
            raise NameTaken(name, holder.ref if holder is not None else None)
        self._names[name] = proc.ref.pid
        proc.x.add_name((True, name))

    def unregister(self, name: Hashable) -> bool:
        """Remove ``name``; returns False when it was not registered."""
        pid = self._names.pop(name, None)
        if pid is None:
            return False
        proc = self._node._procs.get(pid)
        if proc is not None and proc.ext is not None and proc.ext.names:
            proc.ext.names.remove((True, name))
        return True

    def whereis(self, name: Hashable) -> ActorRef | None:
        """The live actor registered as ``name``, or None."""
        pid = self._names.get(name)
        if pid is None:
            return None
        proc = self._node._procs.get(pid)
        return proc.ref if proc is not None else None

    def join(self, group: Hashable, ref: ActorRef) -> None:
        """Add ``ref`` to ``group`` (idempotent)."""
        proc = self._proc(ref)
        members = self._groups.setdefault(group, {})
        if proc.ref.pid not in members:
            members[proc.ref.pid] = None
            proc.x.add_name((False, group))

    def leave(self, group: Hashable, ref: ActorRef) -> bool:
        """Remove ``ref`` from ``group``; returns False when it was not a member."""
        members = self._groups.get(group)
        if members is None or members.pop(ref.pid, False) is False:
            return False
        if not members:
            del self._groups[group]
        proc = self._node._procs.get(ref.pid)
        if proc is not None and proc.ext is not None and proc.ext.names:
            proc.ext.names.remove((False, group))
        return True

    def members(self, group: Hashable) -> list[ActorRef]:
        """Live members of ``group``, in join order."""
        procs = self._node._procs
        out = []
        for pid in self._groups.get(group, ()):
            proc = procs.get(pid)
            if proc is not None:
                out.append(proc.ref)
        return out

    def names(self) -> list[Hashable]:
        """Every registered unique name."""
        return list(self._names)

    def groups(self) -> list[Hashable]:
        """Every non-empty group."""
        return list(self._groups)

    def _drop(self, unique: bool, key: Hashable, pid: int) -> None:
        """Forget ``pid``'s entry (its actor is exiting)."""
        if unique:
            if self._names.get(key) == pid:
                del self._names[key]
            return
        members = self._groups.get(key)
        if members is not None:
            members.pop(pid, None)
            if not members:
                del self._groups[key]
