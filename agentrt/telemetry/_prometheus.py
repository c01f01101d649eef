"""The Prometheus side: ``StoreCollector`` renders a ``MetricStore`` as Prometheus
histograms, ``RuntimeCollector`` the runtime's own gauges and counters (``RUNTIME_METRICS``),
and ``PrometheusEndpoint`` serves a registry (``GET /metrics``) on the runtime's event loop.

The histograms are agentrt's in-process aggregates (``agentrt.telemetry._aggregates``),
converted to the explicit ``le`` buckets the GenAI semantic conventions advise (14 each:
``SECONDS_BUCKETS``/``TOKEN_BUCKETS``), since the text format has no exponential
histograms. Names follow the OpenTelemetry-to-Prometheus mapping
(``gen_ai.invoke_agent.duration`` in seconds → ``gen_ai_invoke_agent_duration_seconds``);
attribute names become labels (dots → underscores).

The endpoint serves one private ``prometheus_client.CollectorRegistry`` (never the
library's global one) from an ``aiohttp`` server in the runtime's loop, closed with the
runtime. A scrape snapshots the store on the loop (~0.1 ms for 100 attribute sets) and
renders the text in a worker thread (``asyncio.to_thread``): rendering 100 attribute
sets x 5 histograms (~6,600 lines) takes ~40 ms, which would otherwise stall the loop.
It listens on loopback by default; bind it elsewhere only behind a firewall (metrics
carry no agent ids, but they describe your traffic).

Needs the ``prometheus`` extra (``prometheus_client``).

Example::

    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    endpoint = PrometheusEndpoint(registry, host="127.0.0.1", port=0)
    await endpoint.start()
    endpoint.url            # "http://127.0.0.1:43817/metrics"
    await endpoint.aclose()
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from agentrt.errors import ConfigError
from agentrt.telemetry._aggregates import MetricStore
from agentrt.telemetry._genai import SECONDS_BUCKETS, TOKEN_BUCKETS

if TYPE_CHECKING:
    from agentrt.telemetry._telemetry import Telemetry

__all__ = ["RUNTIME_METRICS", "PrometheusEndpoint", "RuntimeCollector", "StoreCollector"]

_UNITS = {"s": "seconds", "{token}": ""}


def _label(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


class StoreCollector:
    """A ``prometheus_client`` collector of a ``MetricStore``'s histograms: of the
    snapshot ``freeze()`` took last (on the loop, before rendering in a thread), or of
    the live store when there is none."""

    def __init__(self, store: MetricStore) -> None:
        self.store = store
        self._frozen: dict[str, list[tuple[dict[str, Any], Any]]] | None = None

    def freeze(self) -> None:
        self._frozen = self.store.snapshot()

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import HistogramMetricFamily

        frozen = self._frozen
        for name, (unit, description) in self.store.instruments.items():
            points = frozen.get(name, []) if frozen is not None else self.store.points(name)
            if not points:
                continue
            bounds = TOKEN_BUCKETS if unit == "{token}" else SECONDS_BUCKETS
            keys = sorted({k for attrs, _ in points for k in attrs})
            family = HistogramMetricFamily(
                _label(name), description, labels=[_label(k) for k in keys], unit=_UNITS[unit]
            )
            for attrs, hist in points:
                counts = hist.explicit_counts(bounds)
                buckets, total = [], 0
                for bound, n in zip([*bounds, float("inf")], counts, strict=True):
                    total += n
                    buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
                family.add_metric([str(attrs.get(k, "")) for k in keys], buckets, hist.sum)
            yield family


class PrometheusEndpoint:
    """``GET /metrics`` for ``registry`` on ``host:port`` (``port=0``: a free port).
    ``start`` raises ``ConfigError`` naming the port when it cannot listen."""

    def __init__(
        self,
        registry: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 9464,
        before_render: Callable[[], Any] | None = None,
    ) -> None:
        self.registry = registry
        self.before_render = before_render  # on the loop (snapshots), then a thread renders
        self.host = host
        self.port = port
        self.scrapes = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where to scrape (the bound port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            sock = socket.create_server((self.host, self.port))
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                "telemetry.otel.prometheus_port", f"cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self.port = sock.getsockname()[1]
        site = web.SockSite(runner, sock)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._runner = runner

    async def _metrics(self, request: web.Request) -> web.Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        if self.before_render is not None:
            self.before_render()
        body = await asyncio.to_thread(generate_latest, self.registry)
        self.scrapes += 1
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def stats(self) -> dict[str, Any]:
        return {"url": self.url, "scrapes": self.scrapes, "open": self._runner is not None}

    async def aclose(self) -> None:
        """Stop listening and close connections (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


#: The runtime's own metrics: name -> (type, labels, help). Labels are low-cardinality
#: only (a provider config, a cache, a target: never an agent id).
RUNTIME_METRICS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "agentrt_agents": ("gauge", ("state",), "Agents by state: live or passivated."),
    "agentrt_turns": ("counter", ("outcome",), "Agent turns since start, by outcome."),
    "agentrt_turn_latency_seconds": (
        "gauge",
        ("quantile",),
        "Turn latency quantiles over the recent window (what top shows).",
    ),
    "agentrt_mailbox_depth": ("gauge", ("stat",), "Queued messages: sum and max over actors."),
    "agentrt_actors": ("gauge", (), "Actors alive on the node."),
    "agentrt_restarts": ("counter", ("scope",), "Restarts: of agents, by the agents' supervisor."),
    "agentrt_supervisor_shutdowns": (
        "counter",
        (),
        "Supervisors that reached their restart intensity, and root children that went down.",
    ),
    "agentrt_loop_lag_seconds": ("gauge", ("stat",), "Event loop lag: last, max and mean."),
    "agentrt_loop_blocked_episodes": ("counter", (), "Times the event loop was blocked."),
    "agentrt_llm_queue_depth": (
        "gauge",
        ("provider", "state"),
        "LLM requests per provider: active (holding a slot) and waiting.",
    ),
    "agentrt_llm_queue_wait_seconds": (
        "gauge",
        ("provider", "quantile"),
        "Time waited for an LLM slot, per provider.",
    ),
    "agentrt_llm_requests": ("counter", ("provider", "model"), "LLM requests admitted."),
    "agentrt_llm_errors": (
        "counter",
        ("provider", "model", "error_type"),
        "LLM errors by class.",
    ),
    "agentrt_llm_tokens": (
        "counter",
        ("provider", "model", "type"),
        "LLM tokens: input and output.",
    ),
    "agentrt_llm_cost": ("counter", ("provider", "model"), "LLM spend, in the prices' currency."),
    "agentrt_llm_breakers": (
        "gauge",
        ("provider", "state"),
        "Circuit breakers per provider (one per replica, model and endpoint) by state.",
    ),
    "agentrt_llm_rate_limit_waits": (
        "counter",
        ("provider", "model"),
        "Waits for an rpm/tpm bucket or a pause the server asked for (429, Retry-After).",
    ),
    "agentrt_llm_rate_limit_wait_seconds": (
        "counter",
        ("provider", "model"),
        "Time spent in those waits.",
    ),
    "agentrt_cache_requests": (
        "counter",
        ("cache", "level", "result"),
        "Cache lookups by cache (tool, llm, llm_semantic), level (l1, l2, all) and result.",
    ),
    "agentrt_memory_operation_duration_seconds": (
        "histogram",
        (),
        "Conversation memory operations (context assembly, appends, store reads).",
    ),
    "agentrt_store_operations": ("counter", ("backend",), "Conversation store operations."),
    "agentrt_store_operation_seconds": (
        "gauge",
        ("backend", "operation", "quantile"),
        "Conversation store latency per operation (get, put_many...) since start.",
    ),
    "agentrt_memory_bytes": (
        "gauge",
        ("tier",),
        "Memory by tier: process RSS, the conversations agents hold, the store, the tool cache.",
    ),
    "agentrt_conversation_memory_bytes": (
        "gauge",
        ("tier",),
        "Live agents' conversations by memory tier: recent, compressed, summary.",
    ),
    "agentrt_target_value": ("gauge", ("target",), "Each target's current figure."),
    "agentrt_target_limit": ("gauge", ("target",), "Each target's limit."),
    "agentrt_target_ok": ("gauge", ("target",), "1 when the target is met now, else 0."),
    "agentrt_alerts_active": ("gauge", ("alert",), "1 while the alert is firing, else 0."),
    "agentrt_uptime_seconds": ("gauge", (), "Seconds since the runtime started."),
}


class RuntimeCollector:
    """A ``prometheus_client`` collector of a runtime's gauges and counters
    (``RUNTIME_METRICS``), read off ``telemetry.summary()`` and the ``llm``, ``tools``
    and ``store`` sources. ``freeze()`` takes them on the loop (the endpoint calls it
    before rendering in a thread); ``collect`` renders the last snapshot, or takes one
    when there is none. The freeze is O(agents) (the directory's counts and the
    conversations' bytes): ``python -m loadtest.bench.prometheus`` measures it."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        self._frozen: tuple[dict[str, Any], Any] | None = None

    def freeze(self) -> None:
        telemetry = self.telemetry
        summary = telemetry.summary()
        summary["conversation_bytes"] = telemetry.conversation_bytes()
        summary["memory_tiers"] = telemetry.memory_by_tier()
        # the summary and the three sources read here, not all of ``snapshot()``
        snap = {"summary": summary, **{n: telemetry.source(n) for n in ("llm", "tools", "store")}}
        self._frozen = (snap, telemetry.memory_ops.total.copy())

    def collect(self) -> Iterator[Any]:
        frozen = self._frozen
        if frozen is None:
            self.freeze()
            frozen = self._frozen
            assert frozen is not None
        snap, memory_ops = frozen
        yield from _runtime_families(snap, memory_ops)


def _runtime_families(snap: dict[str, Any], memory_ops: Any) -> Iterator[Any]:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    samples: dict[str, list[tuple[tuple[str, ...], float]]] = {n: [] for n in RUNTIME_METRICS}

    def add(name: str, value: Any, *labels: str) -> None:
        if value is not None:
            samples[name].append((labels, float(value)))

    summary = snap.get("summary", {})
    agents = summary.get("agents", {})
    add("agentrt_agents", agents.get("live", 0), "live")
    add("agentrt_agents", agents.get("passivated", 0), "passivated")
    turns = summary.get("turns", {})
    add("agentrt_turns", turns.get("ok", 0), "ok")
    add("agentrt_turns", turns.get("failed", 0), "failed")
    recent = summary.get("turn_latency_ms", {}).get("recent", {})
    for q in ("p50", "p95", "p99"):
        add("agentrt_turn_latency_seconds", recent.get(f"{q}_ms", 0.0) / 1000, f"0.{q[1:]}")
    mailboxes = summary.get("mailboxes", {})
    add("agentrt_mailbox_depth", mailboxes.get("queued", 0), "sum")
    add("agentrt_mailbox_depth", mailboxes.get("max_depth", 0), "max")
    add("agentrt_actors", mailboxes.get("actors", 0))
    restarts = summary.get("restarts", {})
    add("agentrt_restarts", restarts.get("agents", 0), "agents")
    add("agentrt_restarts", restarts.get("agents_supervisor", 0), "agents_supervisor")
    add("agentrt_supervisor_shutdowns", restarts.get("supervisor_shutdowns", 0))
    lag = summary.get("loop_lag_ms", {})
    for stat in ("last", "max", "mean"):
        add("agentrt_loop_lag_seconds", lag.get(stat, 0.0) / 1000, stat)
    add("agentrt_loop_blocked_episodes", lag.get("blocked_episodes", 0))
    _llm(add, snap.get("llm") or {})
    _caches(add, snap)
    store = snap.get("store") or {}
    if store:
        backend = str(store.get("backend", ""))
        add("agentrt_store_operations", store.get("ops", 0), backend)
        for operation, lat in (store.get("latency") or {}).items():
            for q in ("p50", "p95", "p99"):
                seconds = lat.get(f"{q}_ms", 0.0) / 1000
                add("agentrt_store_operation_seconds", seconds, backend, operation, f"0.{q[1:]}")
        add("agentrt_memory_bytes", store.get("bytes"), "store")
    add("agentrt_memory_bytes", summary.get("rss_bytes"), "process_rss")
    add("agentrt_memory_bytes", summary.get("conversation_bytes"), "conversations")
    for tier, held in (summary.get("memory_tiers") or {}).items():
        add("agentrt_conversation_memory_bytes", held, tier)
    cache = (snap.get("tools") or {}).get("cache") or {}
    add("agentrt_memory_bytes", cache.get("bytes"), "tool_cache")
    for target in summary.get("targets", []):
        name = target["name"]
        add("agentrt_target_value", target["value"], name)
        add("agentrt_target_limit", target["limit"], name)
        add("agentrt_target_ok", 1 if target["ok"] else 0, name)
    for alert in summary.get("alerts", []):
        add("agentrt_alerts_active", 1 if alert["state"] == "firing" else 0, alert["name"])
    add("agentrt_uptime_seconds", summary.get("uptime_s", 0.0))

    for name, (kind, labels, doc) in RUNTIME_METRICS.items():
        family: Any
        if kind == "histogram":
            family = HistogramMetricFamily(name, doc, labels=list(labels))
            counts = memory_ops.explicit_counts(SECONDS_BUCKETS)
            buckets, total = [], 0
            for bound, n in zip([*SECONDS_BUCKETS, float("inf")], counts, strict=True):
                total += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
            family.add_metric([], buckets, memory_ops.total)
            yield family
            continue
        if kind == "counter":
            family = CounterMetricFamily(name, doc, labels=list(labels))
        else:
            family = GaugeMetricFamily(name, doc, labels=list(labels))
        for label_values, value in samples[name]:
            family.add_metric(list(label_values), value)
        yield family


def _llm(add: Callable[..., None], llm: dict[str, Any]) -> None:
    for provider, p in (llm.get("providers") or {}).items():
        queue = p.get("queue", {})
        add("agentrt_llm_queue_depth", queue.get("active", 0), provider, "active")
        add("agentrt_llm_queue_depth", queue.get("waiting", 0), provider, "waiting")
        wait = p.get("queue_wait", {})
        for q in ("p50", "p95", "p99"):
            add(
                "agentrt_llm_queue_wait_seconds",
                wait.get(f"{q}_ms", 0.0) / 1000,
                provider,
                f"0.{q[1:]}",
            )
        for model, m in (p.get("models") or {}).items():
            add("agentrt_llm_requests", m["requests"], provider, model)
            for error, n in m["errors"].items():
                add("agentrt_llm_errors", n, provider, model, str(error))
            add("agentrt_llm_tokens", m["input_tokens"], provider, model, "input")
            add("agentrt_llm_tokens", m["output_tokens"], provider, model, "output")
            add("agentrt_llm_cost", m["cost"], provider, model)
            add("agentrt_llm_rate_limit_waits", m["rate_limit_waits"], provider, model)
            add("agentrt_llm_rate_limit_wait_seconds", m["rate_limit_wait_s"], provider, model)
        states = {"closed": 0, "open": 0, "half_open": 0}
        replicas = (p.get("backend") or {}).get("replicas") or {}
        for replica in replicas.values():
            for breaker in (replica.get("breakers") or {}).values():
                state = str(breaker.get("state", "closed"))
                states[state] = states.get(state, 0) + 1
        for state, n in states.items():
            add("agentrt_llm_breakers", n, provider, state)


def _caches(add: Callable[..., None], snap: dict[str, Any]) -> None:
    name = "agentrt_cache_requests"
    cache = (snap.get("tools") or {}).get("cache") or {}
    if cache:
        add(name, cache.get("hits", 0), "tool", "all", "hit")
        add(name, cache.get("misses", 0), "tool", "all", "miss")
        backend = cache.get("backend") or {}
        if "l1_hits" in backend:  # a two-level cache: where the hits came from
            add(name, backend.get("l1_hits", 0), "tool", "l1", "hit")
            add(name, backend.get("l2_hits", 0), "tool", "l2", "hit")
    llm = snap.get("llm") or {}
    response = llm.get("response_cache") or {}
    if response:
        add(name, response.get("hits", 0), "llm", "all", "hit")
        add(name, response.get("misses", 0), "llm", "all", "miss")
    semantic = llm.get("semantic_cache") or {}
    if semantic:
        add(name, semantic.get("hits", 0), "llm_semantic", "all", "hit")
        add(name, semantic.get("misses", 0), "llm_semantic", "all", "miss")
