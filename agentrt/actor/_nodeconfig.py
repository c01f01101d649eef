"""A node's configuration (``NodeConfig``) and what it reports (``NodeStats``,
``ActorInfo``): frozen records, re-exported by ``agentrt.actor``."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from agentrt.actor._mailbox import MailboxConfig
from agentrt.actor._process import IDLE, INITIALIZING, QUEUED, RUNNING, _Proc, mailbox_len
from agentrt.actor._ref import ActorRef
from agentrt.actor._watchdog import LoopStats
from agentrt.bounds import Bounds
from agentrt.errors import ConfigError

__all__ = ["ActorInfo", "NodeConfig", "NodeStats", "actor_info"]

_SECONDS = Bounds(low=0, open_low=True, high=86_400, unit=" s")


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeConfig:
    """Settings of a node (every field has the default shown).

    - ``name="node"``: used in logs.
    - ``shutdown_timeout=5.0``: seconds ``aclose`` waits for actors to stop before killing.
    - ``slow_handler_threshold=0.1``: seconds of a blocked loop before the watchdog warns.
    - ``lag_interval=0.05``: seconds between loop-lag ticks.
    - ``watchdog=True``: run the blocked-loop watchdog thread.
    - ``slice_size=64``: messages one actor handles before others get a turn.
    - ``yield_every=256``: messages handled before the scheduler yields to the loop.
    - ``mailbox=MailboxConfig()``: default mailbox of spawned actors.

    Example::

        Node(NodeConfig(name="edge-1", shutdown_timeout=10.0))
    """

    name: str = "node"
    shutdown_timeout: float = 5.0
    slow_handler_threshold: float = 0.1
    lag_interval: float = 0.05
    watchdog: bool = True
    slice_size: int = 64
    yield_every: int = 256
    mailbox: MailboxConfig = field(default_factory=MailboxConfig)

    def __post_init__(self) -> None:
        for key in ("shutdown_timeout", "slow_handler_threshold", "lag_interval"):
            try:  # NaN and infinities too: a NaN shutdown timeout never ended
                _SECONDS.check(getattr(self, key), key)
            except ConfigError as exc:
                raise ConfigError(f"node.{key}", exc.problem) from None
        for key in ("slice_size", "yield_every"):
            value = getattr(self, key)
            if type(value) is not int or value < 1:
                raise ConfigError(f"node.{key}", f"must be an int >= 1, got {value!r}")
        if not isinstance(self.mailbox, MailboxConfig):
            raise ConfigError("node.mailbox", f"must be a MailboxConfig, got {self.mailbox!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeStats:
    """Node-wide counters: live ``actors``; ``spawned``/``exited``/``crashes`` in total;
    ``messages`` handled; ``run_queue`` length; worker tasks (``workers``), of which
    ``parked_workers`` wait for work; cancellations of a worker task that no kill sent
    (``stray_cancels``); calls awaiting a reply with a timeout (``pending_calls``); casts and
    infos still queued when their actor exited (``lost_messages``); and the event loop's
    health (``loop``)."""

    name: str
    actors: int
    spawned: int
    exited: int
    crashes: int
    messages: int
    run_queue: int
    workers: int
    parked_workers: int
    stray_cancels: int
    pending_calls: int
    lost_messages: int
    loop: LoopStats


@dataclass(frozen=True, kw_only=True, slots=True)
class ActorInfo:
    """What a node knows of one live actor (for observers such as ``agentrt top``)."""

    ref: ActorRef
    actor_class: str
    state: str
    mailbox_depth: int
    mailbox_max_depth: int
    dropped: int
    links: int
    monitors: int
    trap_exits: bool
    names: tuple[Hashable, ...]
    current_message: str | None


_STATES = {IDLE: "idle", QUEUED: "queued", RUNNING: "running", INITIALIZING: "initializing"}


def actor_info(proc: _Proc) -> ActorInfo:
    """What the node knows of the live actor ``proc``."""
    ext = proc.ext
    cur = proc.current
    return ActorInfo(
        ref=proc.ref,
        actor_class=type(proc.actor).__qualname__,
        state=_STATES.get(proc.sched, "?"),
        mailbox_depth=mailbox_len(proc.mbox),
        mailbox_max_depth=proc.max_depth,
        dropped=proc.dropped,
        links=len(ext.links or ()) if ext else 0,
        monitors=len(ext.monitoring or ()) if ext else 0,
        trap_exits=proc.trap,
        names=tuple(n for _, n in ext.names or ()) if ext else (),
        current_message=None if cur is None else type(cur[1]).__name__,
    )
