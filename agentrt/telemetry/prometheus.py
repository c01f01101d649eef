"""``PrometheusEndpoint``: a scrape endpoint (``GET /metrics``) on the runtime's loop.

It serves one private ``prometheus_client.CollectorRegistry`` (never the library's global
one) in the Prometheus text format, from an ``aiohttp`` server in the runtime's event
loop: no thread of its own, closed with the runtime. A scrape renders the registry in a
worker thread (``asyncio.to_thread``) so that a large one does not stall the loop.
It listens on loopback by default; bind it elsewhere only behind a firewall (metrics
carry no agent ids, but they do describe your traffic).

Needs the ``prometheus`` extra (``opentelemetry-exporter-prometheus``, which brings
``prometheus_client``).

Example::

    endpoint = PrometheusEndpoint(registry, host="127.0.0.1", port=0)
    await endpoint.start()
    endpoint.url            # "http://127.0.0.1:43817/metrics"
    await endpoint.aclose()
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiohttp import web

from agentrt.errors import ConfigError

__all__ = ["PrometheusEndpoint"]


class PrometheusEndpoint:
    """``GET /metrics`` for ``registry`` on ``host:port`` (``port=0``: a free port).
    ``start`` raises ``ConfigError`` naming the port when it cannot listen."""

    def __init__(self, registry: Any, *, host: str = "127.0.0.1", port: int = 9464) -> None:
        self.registry = registry
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
