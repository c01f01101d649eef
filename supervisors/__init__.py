"""OTP supervision trees for agentrt actors.

``Supervisor`` supervises an ordered list of children with a restart strategy;
``DynamicSupervisor`` supervises children started on demand; ``ChildSpec`` says how to
start, restart and stop each child (agentrt actors, nested supervisors, plain coroutines,
pykka actors). This package imports only ``agentrt.actor``.
"""

from __future__ import annotations

from supervisors._backoff import RestartBackoff
from supervisors._base import ChildCounts, ChildInfo, SupervisorStats
from supervisors._children import PykkaChild, TaskChild, pykka_ref
from supervisors._dynamic import DynamicSupervisor
from supervisors._errors import (
    AlreadyPresent,
    AlreadyStarted,
    ChildNotFound,
    ChildRunning,
    MaxChildren,
    StartChildError,
    SupervisorError,
)
from supervisors._reports import ReportHook, ReportKind, SupervisorReport
from supervisors._spec import ChildSpec, ChildType, Restart, Shutdown, StartFn, Strategy
from supervisors._supervisor import Supervisor

__all__ = [
    "AlreadyPresent",
    "AlreadyStarted",
    "ChildCounts",
    "ChildInfo",
    "ChildNotFound",
    "ChildRunning",
    "ChildSpec",
    "ChildType",
    "DynamicSupervisor",
    "MaxChildren",
    "PykkaChild",
    "ReportHook",
    "ReportKind",
    "Restart",
    "RestartBackoff",
    "Shutdown",
    "StartChildError",
    "StartFn",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "SupervisorReport",
    "SupervisorStats",
    "TaskChild",
    "pykka_ref",
]
