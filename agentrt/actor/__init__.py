"""The actor core: nodes, actors, refs, mailboxes, links, monitors, registry, timers.

See ``agentrt.actor.node`` for the node, ``agentrt.actor.actor`` for writing actors and
``agentrt.actor.signals`` for exit reasons.
"""

from __future__ import annotations

from agentrt.actor.actor import IGNORE, NOREPLY, Actor, Caller, Continue, Stop
from agentrt.actor.errors import (
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
from agentrt.actor.loop import SERVER_GC_THRESHOLDS, run
from agentrt.actor.mailbox import MailboxConfig, MailboxStats, Overflow
from agentrt.actor.node import Node
from agentrt.actor.nodeconfig import ActorInfo, NodeConfig, NodeStats
from agentrt.actor.ref import ActorRef
from agentrt.actor.registry import Registry
from agentrt.actor.signals import (
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
from agentrt.actor.timers import TimerRef
from agentrt.actor.watchdog import BlockedEpisode, LoopStats

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
