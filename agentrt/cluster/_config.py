"""``ClusterConfig``: which cluster a node joins and how its liveness is kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from agentrt.bounds import Bounds, check_fields
from agentrt.cluster._placement import STRATEGIES
from agentrt.errors import ConfigError
from agentrt.redact import config_repr, redact_url

__all__ = ["ClusterConfig"]


@dataclass(frozen=True, kw_only=True, repr=False)
class ClusterConfig:
    """One node's view of its cluster.

    - ``name`` (``"default"``): the cluster; its keys live under ``prefix + name + ":"``.
    - ``redis_url`` (``"redis://127.0.0.1:6379/0"``): its password never shows in a repr
      or an error.
    - ``prefix`` (``"agentrt:cluster:"``): the namespace of every cluster key.
    - ``node_id`` (``""``: ``host-pid-random`` chosen at start): this node's name.
    - ``address`` (``""``): how other nodes reach this one (published in the members hash).
    - ``ttl_ms`` (1,500): a node whose liveness key is older than this is swept dead.
    - ``renew_ms`` (500): how often the liveness key is renewed (at most ``ttl_ms / 2``).
    - ``min_nodes`` (1): placement waits until this many nodes are alive.
    - ``op_timeout`` (2 s): longest one Redis operation may take.
    - ``placement`` (``"p2c"``): where new agents go: ``"p2c"`` (power of two choices on
      published load), ``"hash"``, ``"random"`` or ``"local"`` (:mod:`._placement`).
    - ``local_margin`` (0.1): with ``"p2c"``, this node wins when its load is within this
      share of the best candidate's.
    - ``reply_ttl_ms`` (600,000): how long an answer stays recorded under its message id
      (a redelivery within it is answered from the record, never run again).
    - ``placeable`` (True): False makes a node that calls but hosts no new agents (a
      client node, a load generator): placement passes it over.
    - ``request_timeout`` (120 s): the longest a caller waits for a remote answer when its
      turn has no deadline of its own.
    - ``stats_ms`` (2,000): how often this node publishes its statistics (the cluster
      view, ``rt.telemetry.cluster()``), by the tick: every ``max(stats_ms, renew_ms)``.
      A node's record older than three periods is shown stale.
    - ``stats_ttl_ms`` (60,000): how long a published record lives in Redis (a dead
      incarnation drops out of the view after it); more than ``3 * max(stats_ms, renew_ms)``.
    - ``drain_limit`` (60 s): while the node drains (``agentrt node drain``, SIGTERM,
      :meth:`ClusterNode.drain`), how long a turn in flight may run on before its agent is
      stopped anyway (the turn then fails) and the node leaves.
    - ``move_batch`` (500): agents passivated and released at once, in one round of a
      drain or a rebalance.
    - ``rebalance`` (True): move existing agents, in bounded rounds, off nodes holding
      more than ``(1 + rebalance_tolerance)`` times the mean (a node that joins gets its
      share; :mod:`agentrt.cluster._rebalance`). Off: agents stay where they were placed.
    - ``rebalance_ms`` (10,000): the period of the rounds.
    - ``rebalance_tolerance`` (0.15): a node holding at most this share over the mean
      sheds nothing; one above sheds down to the mean.
    - ``rebalance_max_moves`` (1,000) and ``rebalance_fraction`` (0.25): the limits of
      one round for the whole cluster: at most that many agents, and at most that share
      of all agents (Akka's absolute and relative limits). With the defaults, a node
      joining a one-node cluster of up to 4,000 agents is balanced in two rounds.

    Names (``name``, ``prefix``, ``node_id``) may hold no ``{`` or ``}``: those would move
    keys to another Redis Cluster slot. A bad value raises ``ConfigError`` naming the field.

    Example: ``ClusterConfig(name="prod", redis_url="redis://:pw@redis:6379/0", min_nodes=3)``
    """

    name: str = "default"
    redis_url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "agentrt:cluster:"
    node_id: str = ""
    address: str = ""
    ttl_ms: Annotated[int, Bounds(low=10, high=600_000, unit=" ms")] = 1_500
    renew_ms: Annotated[int, Bounds(low=1, high=300_000, unit=" ms")] = 500
    min_nodes: Annotated[int, Bounds(low=1, high=100_000)] = 1
    op_timeout: Annotated[float, Bounds(low=0, open_low=True, high=3_600, unit=" s")] = 2.0
    placement: str = "p2c"
    placeable: bool = True
    local_margin: Annotated[float, Bounds(low=0, high=10)] = 0.1
    reply_ttl_ms: Annotated[int, Bounds(low=1_000, high=86_400_000, unit=" ms")] = 600_000
    request_timeout: Annotated[float, Bounds(low=0, open_low=True, high=86_400, unit=" s")] = 120.0
    stats_ms: Annotated[int, Bounds(low=10, high=3_600_000, unit=" ms")] = 2_000
    stats_ttl_ms: Annotated[int, Bounds(low=1_000, high=86_400_000, unit=" ms")] = 60_000
    drain_limit: Annotated[float, Bounds(low=0, high=86_400, unit=" s")] = 60.0
    move_batch: Annotated[int, Bounds(low=1, high=100_000)] = 500
    rebalance: bool = True
    rebalance_ms: Annotated[int, Bounds(low=10, high=86_400_000, unit=" ms")] = 10_000
    rebalance_tolerance: Annotated[float, Bounds(low=0, high=10)] = 0.15
    rebalance_max_moves: Annotated[int, Bounds(low=1, high=1_000_000)] = 1_000
    rebalance_fraction: Annotated[float, Bounds(low=0, open_low=True, high=1)] = 0.25

    def __post_init__(self) -> None:
        check_fields(self)
        for field, value, empty_ok in (
            ("name", self.name, False),
            ("prefix", self.prefix, False),
            ("node_id", self.node_id, True),
        ):
            if not isinstance(value, str) or (not value and not empty_ok):
                raise ConfigError(field, f"must be a non-empty string, got {value!r}")
            if "{" in value or "}" in value:
                raise ConfigError(field, f"must not hold {{ or }} (hash tags), got {value!r}")
        for flag in ("placeable", "rebalance"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(flag, f"must be True or False, got {getattr(self, flag)!r}")
        if not isinstance(self.address, str):
            raise ConfigError("address", f"must be a string, got {self.address!r}")
        if not isinstance(self.redis_url, str) or not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            shown = (
                redact_url(self.redis_url) if isinstance(self.redis_url, str) else self.redis_url
            )
            raise ConfigError(
                "redis_url", f"must be a redis://, rediss:// or unix:// URL, got {shown!r}"
            )
        if self.placement not in STRATEGIES:
            raise ConfigError(
                "placement", f"must be one of {sorted(STRATEGIES)}, got {self.placement!r}"
            )
        if self.renew_ms * 2 > self.ttl_ms:
            raise ConfigError(
                "renew_ms", f"must be at most ttl_ms / 2 ({self.ttl_ms / 2:g}), got {self.renew_ms}"
            )

        if self.stats_ttl_ms <= self.stats_stale_s * 1000:
            raise ConfigError(
                "stats_ttl_ms",
                f"must be more than 3 * max(stats_ms, renew_ms) ({self.stats_stale_s * 1000:g}),"
                f" got {self.stats_ttl_ms}",
            )

    __repr__ = config_repr  # the URL's password is masked

    @property
    def stats_stale_s(self) -> float:
        """The age (s) past which a node's statistics record is stale: three publishing
        periods (``3 * max(stats_ms, renew_ms)``)."""
        return 3 * max(self.stats_ms, self.renew_ms) / 1000

    @property
    def key_prefix(self) -> str:
        """The namespace of this cluster's keys: ``prefix + name + ":"``."""
        return f"{self.prefix}{self.name}:"
