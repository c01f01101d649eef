"""Cluster-wide statistics: one node's published figures (``NodeStats``) and the merged
view of every node (``ClusterView``), as ``Telemetry.cluster()`` returns them.

Each node of a cluster publishes a ``NodeStats`` on a fixed period
(``ClusterConfig.stats_ms``; ``agentrt.cluster._stats`` encodes it and keeps it in Redis).
:func:`merge` builds the view: every record read, each marked **stale** when it is older
than ``stale_after`` seconds (its node stopped publishing: paused, killed, cut off; shown
with its age, never silently dropped: a dead incarnation's record drops out when its TTL
ends), and the **totals** of the fresh nodes: counters and gauges summed, loop lag the
highest, and the histograms merged bucket by bucket (``LogHistogram.merge`` is exact: the
cluster's p95 is the p95 of every node's turns together, not an average of p95s).

Nothing here does I/O or loads a codec: this module is types and arithmetic.

Example::

    view = await rt.telemetry.cluster()
    view.totals.turns_per_s, view.totals.p95_ms
    [(n.node_id, n.age_s) for n in view.nodes if n.stale]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentrt.telemetry._histogram import LogHistogram

__all__ = [
    "COUNTERS",
    "STATS_DAMAGED",
    "ClusterTotals",
    "ClusterView",
    "NodeStats",
    "Rate",
    "merge",
]

#: Emitted when a node's published statistics cannot be read (measurements: none;
#: metadata: ``node``, ``reason``); the record is skipped from the view.
STATS_DAMAGED = ("agentrt", "cluster", "stats_damaged")

#: A record older than this many of its node's publishing periods is stale.
STALE_PERIODS = 3
#: The stale age (s) of a record that says no period.
DEFAULT_STALE_S = 6.0
#: The summed figures of ``NodeStats`` (the totals add them up over the fresh nodes).
COUNTERS = (
    "agents_live",
    "agents_passivated",
    "turns",
    "errors",
    "turns_per_s",
    "fence_rejections",
    "redeliveries",
    "moves",
)


class _Latencies:
    """What a node's record and the totals share: the two histograms' p95s, and the
    figures as JSON (the histograms as their summaries, in ms)."""

    __slots__ = ()
    turn_latency: LogHistogram
    llm_queue_wait: LogHistogram

    @property
    def p95_ms(self) -> float:
        """Turn latency p95, milliseconds; 0.0 with no turns."""
        return self.turn_latency.quantile(0.95) * 1000

    @property
    def llm_queue_wait_p95_ms(self) -> float:
        """LLM queue wait p95, milliseconds; 0.0 with no LLM request."""
        return self.llm_queue_wait.quantile(0.95) * 1000

    def _figures(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        out["turn_latency"] = self.turn_latency.summary(unit="ms")
        out["llm_queue_wait"] = self.llm_queue_wait.summary(unit="ms")
        out["p95_ms"] = round(self.p95_ms, 3)
        out["llm_queue_wait_p95_ms"] = round(self.llm_queue_wait_p95_ms, 3)
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeStats(_Latencies):
    """One node incarnation's figures, as it published them at ``at`` (wall-clock s).

    - ``load``: the record placement reads (``agents``, ``loop_lag_ms``, ``placeable``...).
    - ``loop_lag_ms``: the event loop's lag (a moving average), milliseconds.
    - ``agents_live`` / ``agents_passivated``: agents running / known but passivated here.
    - ``turns`` / ``errors``: turns run here since the node started / of them, failed.
    - ``turns_per_s``: turns over the last publishing period.
    - ``fence_rejections``: answers refused by the fence (a newer owner held the agent).
    - ``redeliveries``: envelopes this node forwarded from dead incarnations' inboxes.
    - ``moves``: agents moved off this node by drain or rebalance (0 until those run).
    - ``turn_latency``: turn latency in seconds over the telemetry's recent window
      (between half a window and a window: ``TelemetryConfig.window_s``).
    - ``llm_queue_wait``: seconds turns waited for an LLM slot, since the node started.
    - ``age_s`` / ``stale``: filled in by the reader: how old the record is, and whether
      it is older than the view's ``stale_after``.
    """

    node_id: str
    epoch: int
    at: float
    period_s: float = 0.0
    load: Mapping[str, float] = field(default_factory=dict)
    loop_lag_ms: float = 0.0
    agents_live: int = 0
    agents_passivated: int = 0
    turns: int = 0
    errors: int = 0
    turns_per_s: float = 0.0
    fence_rejections: int = 0
    redeliveries: int = 0
    moves: int = 0
    turn_latency: LogHistogram = field(default_factory=LogHistogram)
    llm_queue_wait: LogHistogram = field(default_factory=LogHistogram)
    age_s: float = 0.0
    stale: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable: the figures, with the histograms as their summaries (ms)."""
        return {**self._figures(), "load": dict(self.load)}


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterTotals(_Latencies):
    """The fresh nodes together: ``nodes`` counted, the ``COUNTERS`` summed,
    ``loop_lag_ms`` the highest, the histograms merged exactly; ``stale``: how many
    nodes are stale (not in the sums)."""

    nodes: int = 0
    stale: int = 0
    loop_lag_ms: float = 0.0
    agents_live: int = 0
    agents_passivated: int = 0
    turns: int = 0
    errors: int = 0
    turns_per_s: float = 0.0
    fence_rejections: int = 0
    redeliveries: int = 0
    moves: int = 0
    turn_latency: LogHistogram = field(default_factory=LogHistogram)
    llm_queue_wait: LogHistogram = field(default_factory=LogHistogram)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable, like ``NodeStats.as_dict``."""
        return self._figures()


@dataclass(frozen=True, kw_only=True, slots=True)
class ClusterView:
    """Every node's last record and the cluster's totals, read at ``at`` (wall-clock s).

    ``clustered`` is False for a runtime without a cluster (its one node is itself).
    ``nodes`` are sorted fresh first, then by ``turns_per_s`` (highest first), then by
    id; ``stale_after`` is the age (s) past which a record counts as stale (None: three
    of each record's own publishing periods, ``STALE_PERIODS``); ``damaged``
    names the records that could not be read (skipped; each also reported as the
    ``("agentrt", "cluster", "stats_damaged")`` event).
    """

    clustered: bool
    at: float
    stale_after: float | None
    nodes: tuple[NodeStats, ...]
    totals: ClusterTotals
    damaged: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable (the endpoint's ``/cluster`` answer)."""
        return {
            "clustered": self.clustered,
            "at": self.at,
            "stale_after": self.stale_after,
            "totals": self.totals.as_dict(),
            "nodes": [n.as_dict() for n in self.nodes],
            "damaged": list(self.damaged),
        }


def merge(
    records: Iterable[NodeStats],
    *,
    now: float,
    stale_after: float | None,
    clustered: bool = True,
    damaged: Iterable[str] = (),
) -> ClusterView:
    """The view of ``records`` at wall-clock ``now``: each record's ``age_s`` and
    ``stale`` set (older than ``stale_after`` seconds; None: ``STALE_PERIODS`` of the
    record's ``period_s``, or ``DEFAULT_STALE_S`` when it has none), the fresh ones summed
    (module docs). The records' histograms are left unchanged."""
    nodes: list[NodeStats] = []
    sums = dict.fromkeys(COUNTERS, 0.0)
    lag = 0.0
    latency, queue = LogHistogram(), LogHistogram()
    stale = 0
    for record in records:
        age = max(0.0, now - record.at)
        limit = stale_after
        if limit is None:
            limit = STALE_PERIODS * record.period_s if record.period_s > 0 else DEFAULT_STALE_S
        node = dataclasses.replace(record, age_s=round(age, 3), stale=age > limit)
        nodes.append(node)
        if node.stale:
            stale += 1
            continue
        for name in COUNTERS:
            sums[name] += getattr(node, name)
        lag = max(lag, node.loop_lag_ms)
        latency.merge(node.turn_latency)
        queue.merge(node.llm_queue_wait)
    nodes.sort(key=lambda n: (n.stale, -n.turns_per_s, n.node_id, n.epoch))
    totals = ClusterTotals(
        nodes=len(nodes) - stale,
        stale=stale,
        loop_lag_ms=lag,
        turn_latency=latency,
        llm_queue_wait=queue,
        turns_per_s=round(sums.pop("turns_per_s"), 3),
        **{name: int(value) for name, value in sums.items()},
    )
    return ClusterView(
        clustered=clustered,
        at=now,
        stale_after=stale_after,
        nodes=tuple(nodes),
        totals=totals,
        damaged=tuple(damaged),
    )


class Rate:
    """A counter's rate per second between successive readings at least ``min_s``
    apart (the first reading: since ``start``, wall-clock seconds); a reading sooner than
    that answers the last rate."""

    __slots__ = ("_at", "_last", "_n", "min_s")

    def __init__(self, start: float, min_s: float = 0.2) -> None:
        self._at = start
        self._n = 0
        self._last = 0.0
        self.min_s = min_s

    def __call__(self, count: int, now: float) -> float:
        elapsed = now - self._at
        if elapsed >= self.min_s:
            self._last = round(max(0, count - self._n) / elapsed, 3)
            self._at, self._n = now, count
        return self._last
