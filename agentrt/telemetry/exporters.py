"""Where OpenTelemetry data goes: ``OTelConfig``, and ``OTelSession`` which builds, owns
and shuts down what the configuration asks for.

Nothing is exported by default, and then nothing is attached to the runtime's events:
telemetry costs only agentrt's own in-process stats. Metrics go to ``"console"``,
``"otlp"`` (OTLP over HTTP; extra ``agentrt[otlp]``) or ``"prometheus"`` (a scrape
endpoint served on the runtime's event loop, loopback by default; extra
``agentrt[prometheus]``); traces to ``"console"`` or ``"otlp"``. Or pass your own
``meter_provider=`` / ``tracer_provider=`` to ``Runtime`` and export them as you like.

agentrt never configures the global OpenTelemetry SDK (no ``set_meter_provider`` /
``set_tracer_provider``): it uses the providers it is given, or creates its own, and shuts
down only those it created, when the runtime closes. A missing extra is a ``ConfigError``
naming it, raised when the runtime is constructed.

Example::

    RuntimeConfig(telemetry=TelemetryConfig(otel=OTelConfig(
        metrics="prometheus", traces="otlp", endpoint="http://127.0.0.1:4318",
        service_name="support-swarm")))
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from agentrt.errors import ConfigError
from agentrt.telemetry.otel import OTelExporter, metric_views

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.trace import TracerProvider

    from agentrt.telemetry.prometheus import PrometheusEndpoint
    from agentrt.telemetry.telemetry import Telemetry

__all__ = ["MetricsExporter", "OTelConfig", "OTelSession", "TracesExporter"]

#: Where metrics go: nowhere (default), stdout, an OTLP/HTTP collector, a scrape endpoint.
MetricsExporter = Literal["none", "console", "otlp", "prometheus"]
#: Where spans go: nowhere (default), stdout, an OTLP/HTTP collector.
TracesExporter = Literal["none", "console", "otlp"]

# exporter kind -> (the module it needs, the extra that installs it)
_EXTRAS = {
    "otlp": ("opentelemetry.exporter.otlp.proto.http", "otlp"),
    "prometheus": ("opentelemetry.exporter.prometheus", "prometheus"),
}


@dataclass(frozen=True, kw_only=True)
class OTelConfig:
    """OpenTelemetry export (see the module docs); everything off by default.

    - ``metrics`` ("none"): "console", "otlp" or "prometheus".
    - ``traces`` ("none"): "console" or "otlp".
    - ``service_name`` ("agentrt"): the resource's ``service.name``.
    - ``endpoint`` ("http://127.0.0.1:4318"): the OTLP/HTTP collector; ``/v1/metrics``
      and ``/v1/traces`` are appended.
    - ``headers`` ({}): extra OTLP request headers (credentials: never shown in repr).
    - ``export_interval_s`` (10): how often console/OTLP metrics are pushed.
    - ``prometheus_host`` ("127.0.0.1"), ``prometheus_port`` (9464; 0 picks a free port):
      where the scrape endpoint ``/metrics`` listens.
    - ``exemplar_ids`` (True): exemplars carry ``gen_ai.agent.id`` as a filtered
      attribute (the metric streams never do).

    Example: ``OTelConfig(metrics="otlp", traces="otlp", service_name="swarm")``
    """

    metrics: MetricsExporter = "none"
    traces: TracesExporter = "none"
    service_name: str = "agentrt"
    endpoint: str = "http://127.0.0.1:4318"
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    export_interval_s: float = 10.0
    prometheus_host: str = "127.0.0.1"
    prometheus_port: int = 9464
    exemplar_ids: bool = True

    def __post_init__(self) -> None:
        if self.metrics not in ("none", "console", "otlp", "prometheus"):
            raise ConfigError("metrics", f"must be none/console/otlp/prometheus: {self.metrics!r}")
        if self.traces not in ("none", "console", "otlp"):
            raise ConfigError("traces", f"must be none/console/otlp, got {self.traces!r}")
        if not self.service_name:
            raise ConfigError("service_name", "must not be empty")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError("endpoint", f"must be an http(s) URL, got {self.endpoint!r}")
        if not self.export_interval_s > 0:
            raise ConfigError("export_interval_s", "must be > 0")
        if not 0 <= self.prometheus_port <= 65535:
            raise ConfigError("prometheus_port", f"must be 0..65535, got {self.prometheus_port}")
        if not self.prometheus_host:
            raise ConfigError("prometheus_host", "must not be empty")

    @property
    def enabled(self) -> bool:
        """True when something is exported."""
        return self.metrics != "none" or self.traces != "none"


def require_extra(kind: str, key: str) -> None:
    """``ConfigError`` naming the extra to install when exporter ``kind`` is missing."""
    if kind not in _EXTRAS:
        return
    module, extra = _EXTRAS[kind]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            key, f"{kind!r} needs the {extra!r} extra: pip install 'agentrt[{extra}]' ({exc})"
        ) from None


class OTelSession:
    """The OpenTelemetry side of one runtime: its providers (given, or built from
    ``config`` and owned), the ``OTelExporter`` attached to its telemetry, and the
    Prometheus endpoint. ``start``/``aclose`` are called by the runtime; ``active`` is
    False when nothing is configured (then they do nothing).

    Raises ``ConfigError`` at construction for a missing extra, or when a provider is
    passed for a signal that ``config`` also exports (choose one).
    """

    def __init__(
        self,
        config: OTelConfig,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        if meter_provider is not None and config.metrics != "none":
            raise ConfigError(
                "telemetry.otel.metrics",
                f"is {config.metrics!r} but a meter_provider was passed: choose one",
            )
        if tracer_provider is not None and config.traces != "none":
            raise ConfigError(
                "telemetry.otel.traces",
                f"is {config.traces!r} but a tracer_provider was passed: choose one",
            )
        require_extra(config.metrics, "telemetry.otel.metrics")
        require_extra(config.traces, "telemetry.otel.traces")
        self.config = config
        self.meter_provider: Any = meter_provider
        self.tracer_provider: Any = tracer_provider
        self._owned: list[Any] = []
        self.exporter: OTelExporter | None = None
        self.prometheus: PrometheusEndpoint | None = None
        self._registry: Any = None  # the Prometheus reader's private registry

    @property
    def active(self) -> bool:
        """True when there is anything to record into."""
        return (
            self.config.enabled
            or self.meter_provider is not None
            or self.tracer_provider is not None
        )

    async def start(self, telemetry: Telemetry) -> None:
        """Build the configured providers, attach the exporter to ``telemetry``'s events
        and open the Prometheus endpoint. On failure, what was built is shut down."""
        if not self.active or self.exporter is not None:
            return
        try:
            await self._build()
            exporter = OTelExporter(
                meter_provider=self.meter_provider,
                tracer_provider=self.tracer_provider,
                ids_on_measurements=self.config.exemplar_ids and bool(self._owned_meter),
            )
            exporter.attach(telemetry)
            self.exporter = exporter
        except BaseException:
            await self.aclose()
            raise

    @property
    def _owned_meter(self) -> bool:
        return self.meter_provider is not None and self.meter_provider in self._owned

    async def _build(self) -> None:
        cfg = self.config
        if cfg.metrics == "none" and cfg.traces == "none":
            return
        from opentelemetry.sdk.resources import Resource

        resource = Resource.create({"service.name": cfg.service_name})
        if cfg.metrics != "none":
            self.meter_provider = self._meter_provider(resource)
            self._owned.append(self.meter_provider)
            if cfg.metrics == "prometheus":
                await self._open_prometheus()
        if cfg.traces != "none":
            self.tracer_provider = self._tracer_provider(resource)
            self._owned.append(self.tracer_provider)

    def _meter_provider(self, resource: Resource) -> Any:
        from opentelemetry.sdk.metrics import MeterProvider

        cfg = self.config
        reader: MetricReader
        if cfg.metrics == "prometheus":
            from opentelemetry.exporter.prometheus import PrometheusMetricReader
            from prometheus_client import CollectorRegistry

            self._registry = CollectorRegistry(auto_describe=True)
            reader = PrometheusMetricReader(registry=self._registry)
        else:
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            reader = PeriodicExportingMetricReader(
                _metric_exporter(cfg), export_interval_millis=cfg.export_interval_s * 1000
            )
        histograms = "explicit" if cfg.metrics == "prometheus" else "exponential"
        return MeterProvider(
            metric_readers=[reader],
            resource=resource,
            views=metric_views(histograms),
            shutdown_on_exit=False,
        )

    def _tracer_provider(self, resource: Resource) -> Any:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(_span_exporter(self.config)))
        return provider

    async def _open_prometheus(self) -> None:
        from agentrt.telemetry.prometheus import PrometheusEndpoint

        cfg = self.config
        endpoint = PrometheusEndpoint(
            self._registry, host=cfg.prometheus_host, port=cfg.prometheus_port
        )
        await endpoint.start()
        self.prometheus = endpoint

    async def aclose(self) -> None:
        """Detach the exporter, close the endpoint, and flush and shut down the providers
        this session created (in a thread: an OTLP flush may wait on the network).
        Idempotent."""
        exporter, self.exporter = self.exporter, None
        if exporter is not None:
            exporter.detach()
        endpoint, self.prometheus = self.prometheus, None
        if endpoint is not None:
            await endpoint.aclose()
        owned, self._owned = self._owned, []
        for provider in owned:
            await asyncio.to_thread(provider.shutdown)


def _metric_exporter(cfg: OTelConfig) -> Any:
    if cfg.metrics == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(out=sys.stdout)  # the stdout of now, not of import
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=_url(cfg.endpoint, "metrics"), headers=_headers(cfg))


def _span_exporter(cfg: OTelConfig) -> Any:
    if cfg.traces == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stdout)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=_url(cfg.endpoint, "traces"), headers=_headers(cfg))


def _url(endpoint: str, signal: str) -> str:
    return f"{endpoint.rstrip('/')}/v1/{signal}"


def _headers(cfg: OTelConfig) -> Mapping[str, str] | None:
    return dict(cfg.headers) or None
