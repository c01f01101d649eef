"""``Telemetry``: one runtime's statistics, events and targets, and the views of them.

The runtime owns one ``Telemetry`` (no global). Agents record into their ``AgentStats``
and the node-wide windowed histograms; the LLM pool reports each agent's usage into the
same ``AgentStats`` (``Telemetry`` is its ``UsageRecorder``); other layers expose their
own ``stats()`` and are registered as *sources*; ``snapshot()`` assembles everything as
JSON-serialisable data. A tick every ``window_s / 2`` (run by the runtime) rotates the
windows and checks the targets, emitting ``("agentrt", "target", "breach")`` /
``"recovered"`` on transitions.

Example::

    telemetry = rt.telemetry
    telemetry.snapshot()["summary"]["turns"]       # node-wide figures
    telemetry.agent("agent-7")                     # one agent
    telemetry.top(10, by="p95")                    # the slowest agents
    [s for s in telemetry.check_targets() if not s.ok]
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agentrt.errors import InvalidArgument
from agentrt.telemetry._alerts import Alerts, AlertsConfig
from agentrt.telemetry._cluster import ClusterView, NodeStats, Rate, merge
from agentrt.telemetry._events import Events
from agentrt.telemetry._process import rss_bytes
from agentrt.telemetry._stats import (
    PARKED_MAX,
    AgentStats,
    WindowedHistogram,
    park,
    parked_reader,
    unpark,
)
from agentrt.telemetry._targets import Targets, TargetStatus, evaluate
from agentrt.telemetry._turnlog import TurnLog

__all__ = ["TOP_KEYS", "Telemetry"]

BREACH = ("agentrt", "target", "breach")
RECOVERED = ("agentrt", "target", "recovered")
_time = time.time
_log2 = math.log2
_ceil = math.ceil

#: Orderings of ``top``: the agent view key each sorts on, highest first.
TOP_KEYS = {
    "p95": "p95_ms",
    "turns": "turns",
    "errors": "errors",
    "cost": "cost",
    "tokens": "tokens_out",
    "bytes": "bytes_held",
    "mailbox": "mailbox",
    "restarts": "restarts",
}


def _plain(value: Any) -> Any:
    """``value`` with dataclasses turned into dicts (JSON-serialisable)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


class Telemetry:
    """Statistics, events and targets of one runtime (see the module docs)."""

    def __init__(
        self,
        *,
        targets: Targets | None = None,
        window_s: float = 60.0,
        stats: bool = True,
        max_agents: int = 1_000_000,
        alerts: AlertsConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``max_agents``: records the ``UsageRecorder`` methods create for agent ids not
        seen before stop there (what they report is then counted in ``unrecorded``);
        ``agent_stats`` (an agent starting) always creates its record. ``alerts``: how
        targets become alerts (``AlertsConfig``, default on); ``clock``: the monotonic
        clock their hysteresis runs on (tests pass a fake one)."""
        if max_agents < 1:
            raise InvalidArgument("max_agents", f"max_agents must be >= 1, got {max_agents!r}")
        self.events = Events()
        #: False: agents skip their per-turn stats (``AgentStats``, node-wide turn and
        #: memory-operation histograms), the runtime gives the LLM pool no recorder, and
        #: usage reported for an agent without a record is dropped; events and their
        #: handlers still run.
        self.stats = stats
        self.max_agents = max_agents
        #: usage reports dropped for an unknown agent beyond ``max_agents``
        self.unrecorded = 0
        #: Set by a tracing exporter (``OTelExporter``): returns the caller's trace
        #: context, which a turn carries to its agent so that the agent's span is a child
        #: of the caller's. None: turns carry none.
        self.trace_context: Callable[[], Any] | None = None
        self.targets = targets if targets is not None else Targets()
        self.window_s = window_s
        self.turns = WindowedHistogram()  # turn latency, seconds
        self.memory_ops = WindowedHistogram()  # memory operation latency, seconds
        self.turns_failed = 0
        #: the last few turns of the most recently active agents, with their LLM and tool
        #: steps (bounded: ``agentrt.telemetry._turnlog``); for the dashboard's agent page
        self.turn_log = TurnLog()
        #: stored conversations found corrupt (the agent started afresh)
        self.corrupt_snapshots = 0
        self._failed_window = [0, 0]  # failed turns in the (current, previous) generation
        self.breaches = 0
        self._breached: set[str] = set()
        #: the targets as alerts, with hysteresis and sinks (``agentrt.telemetry._alerts``)
        self.alerting = Alerts(alerts, self.events, clock=clock)
        #: tool calls as agents waited for them, seconds (the calls of one step run
        #: concurrently: each counts the step's wait)
        self.tool_calls = WindowedHistogram()
        #: each agent's stats; a passivated agent's packed (``park``)
        self._agents: dict[str, AgentStats | bytes] = {}
        self._sources: dict[str, Callable[[], Any]] = {}
        self.live_agent: Callable[[str], Mapping[str, Any]] | None = None
        #: extra node-wide figures for ``summary()`` (the runtime reads them off the
        #: other layers: loop lag, mailboxes, LLM queue, cache hit ratio, restarts...)
        self.summary_extras: Callable[[], Mapping[str, Any]] | None = None
        #: this node's figures now, for the cluster view (the runtime sets it)
        self.node_sample: Callable[[], NodeStats] | None = None
        #: reads every node's published figures (a cluster runtime sets it)
        self.cluster_source: Callable[[], Awaitable[ClusterView]] | None = None
        self.started = time.time()
        self._rate = Rate(self.started)
        self.rss_base = rss_bytes()  # the process before any agent: not charged to agents

    # -- recording -------------------------------------------------------------------------

    def agent_stats(self, agent_id: str, agent_class: str) -> AgentStats:
        """The stats of ``agent_id`` (created on first use, kept across restarts; a record
        the LLM pool created first gets its ``agent_class`` here)."""
        found = self._agents.get(agent_id)
        if found is None:
            stats = self._agents[agent_id] = AgentStats(agent_class)
        else:
            stats = self._unparked(agent_id, found)
            if not stats.agent_class:
                stats.agent_class = agent_class
        return stats

    def park(self, agent_id: str) -> None:
        """Agent ``agent_id`` passivated: its stats are kept packed (~120-280 bytes instead
        of ~480-850; ``agentrt.telemetry._stats.park``) until it starts again or usage is
        reported for it. Every view reads them as before. No-op for an unknown id or a
        record whose conversation is still open (``memory_source`` set)."""
        stats = self._agents.get(agent_id)
        if isinstance(stats, AgentStats) and stats.memory_source is None:
            self._agents[agent_id] = park(stats)

    def _unparked(self, agent_id: str, found: AgentStats | bytes) -> AgentStats:
        """``found`` (the record of ``agent_id``) as a live ``AgentStats``, unpacked and
        put back in the table if it was parked."""
        if isinstance(found, AgentStats):
            return found
        stats = self._agents[agent_id] = unpark(found)
        return stats

    def _usage(self, agent_id: str) -> AgentStats | None:
        """The record a usage report charges (None: stats off, or the table is full)."""
        found = self._agents.get(agent_id)
        stats = None if found is None else self._unparked(agent_id, found)
        if stats is None and self.stats:
            if len(self._agents) >= self.max_agents:
                self.unrecorded += 1
                return None
            stats = self._agents[agent_id] = AgentStats("")
        return stats if self.stats else None

    # -- UsageRecorder (the LLM pool reports here) -------------------------------------------

    def llm_call(
        self,
        agent_id: str,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        seconds: float,
        ttft: float | None,
    ) -> None:
        """Charge one answered LLM request to ``agent_id``."""
        try:  # the common case: the agent's record exists (a subscript beats ``get``)
            stats = self._agents[agent_id]
            if isinstance(stats, bytes):
                raise KeyError(agent_id)  # parked: unpacked by ``_usage``
        except KeyError:
            created = self._usage(agent_id)
            if created is None:
                return
            stats = created
        stats.llm_requests += 1
        stats.tokens_in += input_tokens
        stats.tokens_out += output_tokens
        stats.cost += cost
        stats.llm_s += seconds
        if ttft is not None:
            stats.streams += 1
            stats.ttft_s += ttft

    def llm_error(self, agent_id: str, error: BaseException) -> None:
        """Count one failed LLM request of ``agent_id`` under its error type's name."""
        stats = self._usage(agent_id)
        if stats is None:
            return
        errors = stats.llm_errors
        if errors is None:
            errors = stats.llm_errors = {}
        name = type(error).__name__
        errors[name] = errors.get(name, 0) + 1

    def llm_retry(self, agent_id: str) -> None:
        """Count one retry of an LLM request of ``agent_id``."""
        stats = self._usage(agent_id)
        if stats is not None:
            stats.retries += 1

    def llm_queue_wait(self, agent_id: str, seconds: float) -> None:
        """Add ``seconds`` of waiting for an LLM slot to ``agent_id``'s total."""
        stats = self._usage(agent_id)
        if stats is not None:
            stats.queue_wait_s += seconds

    def llm_cache_hit(
        self, agent_id: str, input_tokens: int, output_tokens: int, cost: float
    ) -> None:
        """Count one LLM response-cache hit of ``agent_id`` and what it saved."""
        stats = self._usage(agent_id)
        if stats is not None:
            stats.llm_cache_hits += 1
            stats.llm_cache_tokens_saved += input_tokens + output_tokens
            stats.llm_cache_cost_saved += cost

    def llm_cache_miss(self, agent_id: str) -> None:
        """Count one LLM response-cache miss of ``agent_id``."""
        stats = self._usage(agent_id)
        if stats is not None:
            stats.llm_cache_misses += 1

    def record_turn(self, stats: AgentStats, seconds: float, ok: bool) -> None:
        """Count one turn of ``stats``' agent that took ``seconds`` (node-wide too).

        The hot path of every turn: the latency goes into the agent's histogram and the
        node's with one logarithm, inline (``LogHistogram.record``'s steps, unrolled: a
        call each would cost a third more; ``loadtest/bench/telemetry.py`` measures it).
        """
        a, b = stats.latency, self.turns.current
        if seconds > 0 and a.scale == b.scale:
            i = _ceil(_log2(seconds) * a._factor) - 1
            a.total += seconds
            if seconds > a.max:
                a.max = seconds
            if seconds < a.min:
                a.min = seconds
            j = i - a._base
            try:
                if j < 0:
                    raise IndexError(j)
                a._counts[j] += 1
            except IndexError:
                a._add(i, 1)
            b.total += seconds
            if seconds > b.max:
                b.max = seconds
            if seconds < b.min:
                b.min = seconds
            j = i - b._base
            try:
                if j < 0:
                    raise IndexError(j)
                b._counts[j] += 1
            except IndexError:
                b._add(i, 1)
        else:
            a.record(seconds)
            b.record(seconds)
        stats.last_turn = _time()
        if not ok:  # ok turns are counted by the histograms
            stats.errors += 1
            self.turns_failed += 1
            self._failed_window[0] += 1

    @property
    def turns_ok(self) -> int:
        """Turns that succeeded, since the start."""
        return self.turns.count - self.turns_failed

    def alerts(self) -> dict[str, Any]:
        """The active alerts and the recent transitions (``Alerts.view``)."""
        return self.alerting.view()

    def add_source(self, name: str, stats: Callable[[], Any]) -> None:
        """Include ``stats()`` under ``name`` in every snapshot."""
        self._sources[name] = stats

    # -- the tick ------------------------------------------------------------------------------

    def tick(self) -> list[TargetStatus]:
        """Rotate the windows, then check the targets (the runtime calls this every
        ``window_s / 2`` seconds)."""
        self.turns.rotate()
        self.memory_ops.rotate()
        self.tool_calls.rotate()
        self._failed_window = [0, self._failed_window[0]]
        return self.check_targets()

    def figures(self) -> dict[str, float | None]:
        """The current value of every target figure (None when not measured yet)."""
        recent = self.turns.recent
        memory = self.memory_ops.recent
        tools = self.tool_calls.recent
        failed = sum(self._failed_window)
        turns = recent.count
        live = self._live_agents()
        lag = self._loop_lag_ms()
        return {
            "response_p95_s": recent.quantile(0.95) if recent.count else None,
            "tool_p90_s": tools.quantile(0.90) if tools.count else None,
            "memory_op_p99_ms": memory.quantile(0.99) * 1000 if memory.count else None,
            "bytes_per_agent": max(0, rss_bytes() - self.rss_base) / live if live else None,
            "error_rate": failed / turns if turns else None,
            "loop_lag_ms": lag,
        }

    def check_targets(self) -> list[TargetStatus]:
        """Evaluate the targets now; emit breach/recovered events on transitions, and
        advance the alerts (which fire and clear with hysteresis)."""
        statuses = evaluate(self.targets, self.figures())
        self.alerting.update(statuses)
        for status in statuses:
            breached = status.name in self._breached
            if not status.ok and not breached:
                self._breached.add(status.name)
                self.breaches += 1
                self.events.emit(
                    BREACH,
                    {"value": status.value or 0.0, "limit": status.limit},
                    {"target": status.name},
                )
            elif status.ok and breached:
                self._breached.discard(status.name)
                self.events.emit(
                    RECOVERED,
                    {"value": status.value or 0.0, "limit": status.limit},
                    {"target": status.name},
                )
        return statuses

    def _live_agents(self) -> int:
        source = self._sources.get("agents")
        if source is None:
            return 0
        return int(source().get("live", 0))

    def _loop_lag_ms(self) -> float | None:
        source = self._sources.get("node")
        if source is None:
            return None
        loop = _plain(source()).get("loop") or {}
        lag = loop.get("lag_mean")  # a moving average: recovers, unlike the all-time max
        return None if lag is None else float(lag) * 1000

    # -- views -------------------------------------------------------------------------------

    def agent(self, agent_id: str) -> dict[str, Any] | None:
        """One agent's stats and live state (state, mailbox, restarts), or None."""
        stats = self._agents.get(agent_id)
        if stats is None:
            return None
        if not isinstance(stats, AgentStats):
            stats = unpark(stats)  # a passivated agent's: read, left parked
        out = {"id": agent_id, **stats.view()}
        if self.live_agent is not None:
            out.update(self.live_agent(agent_id))
        return out

    def agents(self) -> list[dict[str, Any]]:
        """Every agent's view (see ``agent``)."""
        return [v for v in (self.agent(i) for i in self._agents) if v is not None]

    def conversation_bytes(self) -> int:
        """The estimated in-memory size of every agent's conversation, summed: each
        agent's last-known ``bytes_held`` (refreshed whenever its view is built; a
        passivated agent's is the size it had), so this costs a pass over the table and
        no agent's conversation is measured."""
        held = parked_reader("bytes_held")
        total = 0.0
        for stats in self._agents.values():
            total += stats.bytes_held if isinstance(stats, AgentStats) else held(stats)
        return int(total)

    def memory_by_tier(self) -> dict[str, int]:
        """The conversations live agents hold in memory, summed by tier: ``recent``
        (the recent windows), ``compressed`` (resident compressed chunks and chunk
        tables), ``summary`` (rolling summaries). A pass over the live agents' records
        (``MemorySource.memory_tiers``, O(chunks) each); passivated agents hold none."""
        recent = compressed = summary = 0
        for stats in self._agents.values():
            source = stats.memory_source if isinstance(stats, AgentStats) else None
            if source is not None:
                r, c, s = source.memory_tiers()
                recent, compressed, summary = recent + r, compressed + c, summary + s
        return {"recent": recent, "compressed": compressed, "summary": summary}

    def agent_count(self) -> int:
        """How many agents have stats: every agent that ever started, plus the ids the
        LLM pool reported usage for without an agent (e.g. ``"<summarizer>"``)."""
        return len(self._agents)

    def top(self, n: int = 10, by: str = "p95") -> list[dict[str, Any]]:
        """The ``n`` agents highest by ``by`` (a key of ``TOP_KEYS``), ties in spawn order.

        Only the ``n`` selected agents' views are built (an introspection client polling
        a 100,000-agent node every second must not stall its loop)."""
        key = TOP_KEYS.get(by)
        if key is None:
            raise InvalidArgument(
                "by", f"top: unknown ordering {by!r}; choose from {sorted(TOP_KEYS)}"
            )
        if key == "p95_ms":
            ids = self._slowest(max(0, n))
        else:
            ids = heapq.nlargest(max(0, n), self._agents, key=self._sort_key(key))
        return [v for v in (self.agent(i) for i in ids) if v is not None]

    def page(
        self,
        by: str = "p95",
        *,
        offset: int = 0,
        limit: int = 50,
        ascending: bool = False,
        where: Callable[[str], bool] | None = None,
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of the agents ordered by ``by`` (a key of ``TOP_KEYS``; highest first,
        or lowest with ``ascending``; ties in spawn order), among those ``where`` accepts
        (every agent when None): ``(how many matched, the views of agents offset ..
        offset + limit)``. Only the returned page's views are built; the first page of the
        highest, unfiltered, is ``top``'s selection. ``InvalidArgument`` for an unknown
        ``by`` or a negative ``offset``/``limit``."""
        key = TOP_KEYS.get(by)
        if key is None:
            raise InvalidArgument(
                "by", f"page: unknown ordering {by!r}; choose from {sorted(TOP_KEYS)}"
            )
        if offset < 0 or limit < 0:
            raise InvalidArgument("offset", "page: offset and limit must be >= 0")
        if where is None and not ascending and offset == 0:
            return len(self._agents), self.top(limit, by=by)
        ids = [i for i in self._agents if where(i)] if where is not None else list(self._agents)
        figure = self._p95_of if key == "p95_ms" else self._sort_key(key)
        order = {agent_id: n for n, agent_id in enumerate(ids)}
        want = offset + limit
        if ascending:
            chosen = heapq.nsmallest(want, ids, key=lambda i: (figure(i), order[i]))
        else:
            chosen = heapq.nlargest(want, ids, key=lambda i: (figure(i), -order[i]))
        views = (self.agent(i) for i in chosen[offset:])
        return len(ids), [v for v in views if v is not None]

    def _p95_of(self, agent_id: str) -> float:
        stats = self._agents[agent_id]
        if not isinstance(stats, AgentStats):
            stats = unpark(stats)
        return stats.latency.quantile(0.95)

    def _slowest(self, n: int) -> list[str]:
        """The ``n`` agents of highest turn p95, ties in spawn order. A quantile costs
        ~1 µs, so an agent whose slowest turn cannot beat the current n-th p95 is skipped
        on its ``max`` alone (p95 <= max): most of a large swarm is."""
        heap: list[tuple[float, int, str]] = []  # (p95, -spawn order, id): a min-heap
        if n == 0:
            return []
        parked_max = PARKED_MAX.unpack_from
        for order, (agent_id, stats) in enumerate(self._agents.items()):
            if isinstance(stats, AgentStats):
                latency = stats.latency
                if len(heap) == n and latency.max <= heap[0][0]:
                    continue
            else:  # parked: its max is read off the head, the rest unpacked if needed
                if len(heap) == n and parked_max(stats)[0] <= heap[0][0]:
                    continue
                latency = unpark(stats).latency
            item = (latency.quantile(0.95), -order, agent_id)
            if len(heap) < n:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
        heap.sort(reverse=True)
        return [agent_id for _, _, agent_id in heap]

    def _sort_key(self, key: str) -> Callable[[str], float]:
        """The figure ``key`` of an agent view, read straight off its stats."""
        agents = self._agents
        if key in AgentStats.__slots__ or key == "turns":
            parked = parked_reader(key)

            def figure(agent_id: str) -> float:
                stats = agents[agent_id]
                if isinstance(stats, AgentStats):
                    return float(getattr(stats, key))
                return parked(stats)

            return figure
        live = self.live_agent
        if live is None:
            return lambda i: 0.0
        return lambda i: float(live(i).get(key) or 0)

    def summary(self) -> dict[str, Any]:
        """Node-wide figures: turns, latency, memory operations, targets, RSS, and the
        runtime's extras (loop lag, agents, mailboxes, LLM queue, cache, restarts)."""
        recent, total = self.turns.recent, self.turns.total
        memory = self.memory_ops.total
        return {
            "turns": {"ok": self.turns_ok, "failed": self.turns_failed},
            "turn_latency_ms": {
                "recent": recent.summary(unit="ms"),
                "total": total.summary(unit="ms"),
            },
            "memory_op_ms": memory.summary((0.5, 0.99), unit="ms"),
            "targets": [s.as_dict() for s in evaluate(self.targets, self.figures())],
            "breaches": self.breaches,
            "alerts": [a.as_dict() for a in self.alerting.active()],
            "rss_bytes": rss_bytes(),
            "rss_base_bytes": self.rss_base,
            "uptime_s": round(time.time() - self.started, 3),
            "event_handler_failures": self.events.failures,
            **(_plain(self.summary_extras()) if self.summary_extras is not None else {}),
        }

    async def cluster(self) -> ClusterView:
        """The cluster's statistics: every node's last published figures and the merged
        totals (``agentrt.telemetry._cluster``; docs/cluster.md, "Cluster statistics").

        In cluster mode it reads every node's record from Redis (one round trip; a
        damaged record is skipped and reported as ``("agentrt", "cluster",
        "stats_damaged")``; ``ClusterUnavailable`` when Redis fails). Without a cluster
        it answers a one-node view of this runtime (``clustered`` False, never stale),
        so that the same code serves both."""
        if self.cluster_source is not None:
            return await self.cluster_source()
        now = time.time()
        if self.node_sample is not None:
            sample = self.node_sample()
        else:
            turns, failed, latency = self.turns.count, self.turns_failed, self.turns.recent
            sample = NodeStats(node_id="local", epoch=0, at=now, turns=turns, errors=failed,
                               turn_latency=latency)  # fmt: skip
        rate = self._rate(sample.turns, now)
        sample = dataclasses.replace(sample, at=now, turns_per_s=rate)
        return merge([sample], now=now, stale_after=None, clustered=False)

    def source(self, name: str) -> Any:
        """Source ``name``'s stats now (JSON-serialisable), or None when there is none."""
        source = self._sources.get(name)
        return None if source is None else _plain(source())

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-serialisable: ``summary`` (node-wide figures), each source's
        stats under its name, and the number of agents with stats (the agents themselves:
        ``agents()`` / ``top()``)."""
        out: dict[str, Any] = {"summary": self.summary(), "agents_tracked": len(self._agents)}
        for name, source in self._sources.items():
            out[name] = _plain(source())
        return out
