"""Errors of the supervision API.

::

    AgentRTError
    └── SupervisorError                    ``reason`` holds the OTP term
        ├── StartChildError                a child failed to start:
        │                                  ("failed_to_start_child", id, reason)
        ├── AlreadyStarted                 start_child: the id runs ("already_started")
        ├── AlreadyPresent                 start_child: the id exists, not running
        ├── ChildRunning                   delete/restart_child of a running child ("running")
        ├── ChildNotFound (LookupError)    unknown child id or ref ("not_found")
        └── MaxChildren                    DynamicSupervisor is full ("max_children")
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from agentrt.actor import ActorRef
from agentrt.errors import AgentRTError

__all__ = [
    "AlreadyPresent",
    "AlreadyStarted",
    "ChildNotFound",
    "ChildRunning",
    "MaxChildren",
    "StartChildError",
    "SupervisorError",
]


class SupervisorError(AgentRTError):
    """Base class; ``reason`` is the OTP-style term for the error."""

    reason: Any = None


class StartChildError(SupervisorError):
    """Child ``child_id`` failed to start; ``child_reason`` is why (its init's exception,
    or, for a nested supervisor, that supervisor's exit reason
    ``("shutdown", ("failed_to_start_child", id, why))``). ``reason`` is OTP's
    ``("failed_to_start_child", child_id, child_reason)``; a supervisor whose own start
    fails this way exits with ``exit_reason``, ``("shutdown", reason)``: a shutdown, not a
    crash (OTP's). The child's crash was logged with its traceback, the failure as a
    ``start_error`` report."""

    log_traceback = False

    def __init__(self, child_id: Hashable, child_reason: Any) -> None:
        super().__init__(f"failed to start child {child_id!r}: {child_reason!r}")
        self.child_id = child_id
        self.child_reason = child_reason
        self.reason = ("failed_to_start_child", child_id, child_reason)

    @property
    def exit_reason(self) -> tuple[str, Any]:
        """The exit reason of a supervisor whose start failed with this error."""
        return ("shutdown", self.reason)


class AlreadyStarted(SupervisorError):
    """A child with this id is already running (``ref``)."""

    def __init__(self, child_id: Hashable, ref: ActorRef) -> None:
        super().__init__(f"child {child_id!r} is already started: {ref!r}")
        self.child_id = child_id
        self.ref = ref
        self.reason = ("already_started", ref)


class AlreadyPresent(SupervisorError):
    """A child spec with this id exists but is not running (use ``restart_child``)."""

    def __init__(self, child_id: Hashable) -> None:
        super().__init__(f"child {child_id!r} is already present (not running)")
        self.child_id = child_id
        self.reason = "already_present"


class ChildRunning(SupervisorError):
    """The operation needs the child stopped, and it is running."""

    def __init__(self, child_id: Hashable) -> None:
        super().__init__(f"child {child_id!r} is running")
        self.child_id = child_id
        self.reason = "running"


class ChildNotFound(SupervisorError, LookupError):
    """No child with this id (or ref) under this supervisor."""

    def __init__(self, child: Any) -> None:
        super().__init__(f"no child {child!r}")
        self.child = child
        self.reason = "not_found"


class MaxChildren(SupervisorError):
    """The DynamicSupervisor already has ``limit`` children; nothing was started."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"dynamic supervisor is at max_children={limit}")
        self.limit = limit
        self.reason = "max_children"
