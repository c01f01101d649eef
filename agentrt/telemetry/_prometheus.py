"""The Prometheus side: ``StoreCollector`` renders a ``MetricStore`` as Prometheus
histograms, and ``PrometheusEndpoint`` serves a registry (``GET /metrics``) on the
runtime's event loop.

The histograms are agentrt's in-process aggregates (``agentrt.telemetry._aggregates``),
converted exactly to explicit ``le`` buckets (4 per doubling for seconds, 2 for tokens:
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
from typing import Any

from aiohttp import web

from agentrt.errors import ConfigError
from agentrt.telemetry._aggregates import MetricStore
from agentrt.telemetry._genai import SECONDS_BUCKETS, TOKEN_BUCKETS

__all__ = ["PrometheusEndpoint", "StoreCollector"]

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
