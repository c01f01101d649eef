"""The actor core: nodes, actors, refs, mailboxes, links, monitors, registry, timers.

See ``agentrt.actor._node`` for the node, ``agentrt.actor._actor`` for writing actors and
``agentrt.actor._signals`` for exit reasons.
"""

from __future__ import annotations

from agentrt.actor._actor import IGNORE, NOREPLY, Actor, Caller, Continue, Stop
from agentrt.actor._errors import (
    ActorDead,
    ActorDefinitionError,
    ActorError,
    CallTimeout,
    Ignored,
    InitError,
    MailboxFull,
    NameTaken,
    NodeClosed,
    StopTimeout,
)
from agentrt.actor._loop import SERVER_GC_THRESHOLDS, run
from agentrt.actor._mailbox import MailboxConfig, MailboxStats, Overflow
from agentrt.actor._node import Node
from agentrt.actor._nodeconfig import ActorInfo, NodeConfig, NodeStats
from agentrt.actor._ref import ActorRef
from agentrt.actor._registry import Registry
from agentrt.actor._signals import (
    KILLED,
    NOPROC,
    NORMAL,
    SHUTDOWN,
    Down,
    Exit,
    ExitReason,
    MonitorRef,
    is_crash,
    is_shutdown,
)
from agentrt.actor._timers import TimerRef
from agentrt.actor._watchdog import BlockedEpisode, LoopStats

__all__ = [
    "IGNORE",
    "KILLED",
    "NOPROC",
    "NOREPLY",
    "NORMAL",
    "SERVER_GC_THRESHOLDS",
    "SHUTDOWN",
    "Actor",
    "ActorDead",
    "ActorDefinitionError",
    "ActorError",
    "ActorInfo",
    "ActorRef",
    "BlockedEpisode",
    "CallTimeout",
    "Caller",
    "Continue",
    "Down",
    "Exit",
    "ExitReason",
    "Ignored",
    "InitError",
    "LoopStats",
    "MailboxConfig",
    "MailboxFull",
    "MailboxStats",
    "MonitorRef",
    "NameTaken",
    "Node",
    "NodeClosed",
    "NodeConfig",
    "NodeStats",
    "Overflow",
    "Registry",
    "Stop",
    "StopTimeout",
    "TimerRef",
    "is_crash",
    "is_shutdown",
    "run",
]
