"""The ``[cluster]`` table of a load scenario and the cluster fault kinds.

``[cluster]`` runs the scenario against a cluster (docs/loadtest.md, "Across nodes"):
``nodes`` ``agentrt node`` processes the runner starts on loopback (0: target a running
cluster at ``redis_url``), the load generator a client node in its own process. Faults on
a schedule, in ``[faults]``:

- ``[[faults.node_kill]]`` ``at``: a node's process group gets SIGKILL; a replacement
  node (a new id) is started at once;
- ``[[faults.node_pause]]`` ``at``, ``duration``: SIGSTOP, then SIGCONT after
  ``duration`` (a zombie when longer than ``ttl``);
- ``[[faults.redis_restart]]`` ``at``, ``down``: the redis-server the runner started for
  the run (never a server it did not start) is stopped for ``down``, then started again
  on the same port with its data (append-only file);
- ``[[faults.drain]]`` ``at``, ``replace`` (false): a node gets SIGTERM, drains (its
  agents move to the others) and exits; with ``replace`` a new node is started once it
  exited (scaling in, or a node swapped);
- ``[[faults.join]]`` ``at``, ``count`` (1): that many new nodes start and join (scaling
  out: new placements prefer them and the rebalancer moves agents to them);
- ``[[faults.rolling_restart]]`` ``at``: every node the runner holds then, one at a time:
  SIGTERM (it drains and exits), then started again under the same id, joined before the
  next one goes (``agentrt cluster restart --rolling``).

Nodes are faulted in turn (the first live one, then the next). Bad keys and values raise
:class:`~agentrt.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.loadtest._quantity import set_seconds

__all__ = [
    "ClusterSpec",
    "Drain",
    "Join",
    "NodeKill",
    "NodePause",
    "RedisRestart",
    "RollingRestart",
]

_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
Duration = float | str


@dataclass(frozen=True, kw_only=True)
class ClusterSpec:
    """Where the scenario's agents live.

    - ``nodes`` (3): ``agentrt node`` processes started on loopback for the run, all
      stopped after it (also on failure or Ctrl-C); 0 targets a running cluster;
    - ``name`` (``"loadtest"``): the cluster's name;
    - ``redis_url`` (none): the cluster's Redis; default a redis-server the runner starts
      on a free port (required when ``nodes = 0``);
    - ``prefix`` (``"agentrt:cluster:"``), ``store_prefix`` (``"agentrt:mem:"``): its keys;
    - ``agent_prefix`` (``"agent-"``): the route the nodes host (``agentrt node``'s default
      route ``agent-=agentrt:Agent``); ``agent_class`` (``"agentrt:Agent"``) what it runs;
    - ``ttl`` (``"600ms"``), ``renew`` (``"150ms"``): the started nodes' liveness;
    - ``settle`` (``"2s"``): how long after a fault ends its window lasts (turns
      overlapping a window are left out of ``response_p95_outside_faults``);
    - ``join_timeout`` (``"60s"``): longest wait for a started node to join, and for a
      drained node to exit;
    - ``rebalance`` (none: the nodes' default, 10 s): the period of the nodes'
      rebalancing rounds (``agentrt node --rebalance-ms``); ``"0s"`` turns it off.
    """

    nodes: Annotated[int, Bounds(low=0, high=64)] = 3
    name: str = "loadtest"
    redis_url: str | None = None
    prefix: str = "agentrt:cluster:"
    store_prefix: str = "agentrt:mem:"
    agent_prefix: str = "agent-"
    agent_class: str = "agentrt:Agent"
    ttl: Duration = 0.6
    renew: Duration = 0.15
    settle: Duration = 2.0
    join_timeout: Duration = 60.0
    rebalance: Duration | None = None

    def __post_init__(self) -> None:
        check_fields(self)
        set_seconds(self, "ttl", "renew", "join_timeout", allow_zero=False)
        set_seconds(self, "settle", "rebalance")
        if self.rebalance is not None and 0 < float(self.rebalance) < 0.01:
            raise ConfigError(
                "rebalance", f"must be 0 (off) or at least 10ms, got {self.rebalance}"
            )
        if not _NAME.fullmatch(self.name):
            raise ConfigError("name", f"must be a plain name, got {self.name!r}")
        for key in ("prefix", "store_prefix", "agent_prefix"):
            value = getattr(self, key)
            if not value or "{" in value or "}" in value or any(c.isspace() for c in value):
                raise ConfigError(key, f"must be a non-empty name without braces, got {value!r}")
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError("redis_url", "must be a redis://, rediss:// or unix:// URL")
        if self.nodes == 0 and self.redis_url is None:
            raise ConfigError("redis_url", "nodes = 0 targets a running cluster: name its Redis")
        if float(self.renew) * 2 > float(self.ttl):
            raise ConfigError("renew", f"must be at most ttl / 2 ({float(self.ttl) / 2:g} s)")
        if ":" not in self.agent_class:
            raise ConfigError("agent_class", f"expected module:Class, got {self.agent_class!r}")


@dataclass(frozen=True, kw_only=True)
class NodeKill:
    """At ``at`` (since the load began) a node is killed (SIGKILL) and replaced."""

    at: Duration

    def __post_init__(self) -> None:
        set_seconds(self, "at")


@dataclass(frozen=True, kw_only=True)
class NodePause:
    """At ``at`` a node is paused (SIGSTOP) for ``duration``, then resumed (SIGCONT)."""

    at: Duration
    duration: Duration = 1.2

    def __post_init__(self) -> None:
        set_seconds(self, "at")
        set_seconds(self, "duration", allow_zero=False)


@dataclass(frozen=True, kw_only=True)
class RedisRestart:
    """At ``at`` the runner's own redis-server stops for ``down``, then starts again."""

    at: Duration
    down: Duration = 0.5

    def __post_init__(self) -> None:
        set_seconds(self, "at")
        set_seconds(self, "down", allow_zero=False)


@dataclass(frozen=True, kw_only=True)
class Drain:
    """At ``at`` a node gets SIGTERM: it drains and exits; ``replace``: then a new node
    starts."""

    at: Duration
    replace: bool = False

    def __post_init__(self) -> None:
        set_seconds(self, "at")
        if not isinstance(self.replace, bool):
            raise ConfigError("replace", f"must be true or false, got {self.replace!r}")


@dataclass(frozen=True, kw_only=True)
class Join:
    """At ``at``, ``count`` new nodes start and join the cluster."""

    at: Duration
    count: Annotated[int, Bounds(low=1, high=16)] = 1

    def __post_init__(self) -> None:
        check_fields(self)
        set_seconds(self, "at")


@dataclass(frozen=True, kw_only=True)
class RollingRestart:
    """At ``at`` every node is restarted in turn: drained (SIGTERM), started again under
    its id, joined before the next."""

    at: Duration

    def __post_init__(self) -> None:
        set_seconds(self, "at")
