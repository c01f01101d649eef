"""Where OpenTelemetry data goes: ``OTelConfig``, and ``OTelSession`` which builds, owns
and shuts down what the configuration asks for.

Nothing is exported by default, and then nothing is attached to the runtime's events:
telemetry costs only agentrt's own in-process stats. Metrics go to ``"console"``,
``"otlp"`` (OTLP over HTTP; extra ``agentrt-actors[otlp]``) or ``"prometheus"`` (a
scrape endpoint served on the runtime's event loop, loopback by default; extra
``agentrt-actors[prometheus]``); traces to ``"console"`` or ``"otlp"``. Or give ``Runtime``
an SDK exporter of your choice (``metric_exporter=`` / ``span_exporter=``: agentrt runs the
pipeline), or your own ``meter_provider=`` / ``tracer_provider=`` (any SDK setup).

Metrics exported by agentrt's own pipeline are aggregated in process
(``agentrt.telemetry._aggregates``: ~0.5 µs a measurement); through a meter provider each
measurement pays the SDK's 5-15 µs. Likewise spans: agentrt's pipeline records them as
plain data and exports them in batches from a thread (``SpanRecorder``, ~4 µs a span);
a tracer provider's spans cost the SDK's ~15-20 µs.

agentrt never configures the global OpenTelemetry SDK (no ``set_meter_provider`` /
``set_tracer_provider``): it uses the providers it is given, or creates its own, and shuts
down only what it created, when the runtime closes. A missing extra is a ``ConfigError``
naming it, raised when the runtime is constructed.

Example::

    RuntimeConfig(telemetry=TelemetryConfig(otel=OTelConfig(
        metrics="prometheus", traces="otlp", endpoint="http://127.0.0.1:4318",
        service_name="support-swarm", sampler="parentbased_traceidratio", sampler_arg=0.1)))

The standard ``OTEL_*`` environment variables fill in what the config leaves None
(``OTelConfig.resolve``).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from agentrt._version import __version__
from agentrt.bounds import Bounds, Port, check_fields
from agentrt.errors import ConfigError
from agentrt.redact import config_repr, redact_url
from agentrt.telemetry._genai import INSTRUMENTS

if TYPE_CHECKING:  # the OTel SDK is imported when a session starts, not with this module
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import TracerProvider

    from agentrt.telemetry._aggregates import MetricStore
    from agentrt.telemetry._otel import OTelExporter
    from agentrt.telemetry._prometheus import PrometheusEndpoint
    from agentrt.telemetry._spans import SpanRecorder
    from agentrt.telemetry._telemetry import Telemetry

__all__ = ["MetricsExporter", "OTelConfig", "OTelSession", "TracesExporter", "require_extra"]

_log = logging.getLogger("agentrt.telemetry")

#: Where metrics go: nowhere (default), stdout, an OTLP/HTTP collector, a scrape endpoint.
MetricsExporter = Literal["none", "console", "otlp", "prometheus"]
#: Where spans go: nowhere (default), stdout, an OTLP/HTTP collector.
TracesExporter = Literal["none", "console", "otlp"]

# exporter kind -> (the module it needs, the extra that installs it)
_EXTRAS = {
    "otlp": ("opentelemetry.exporter.otlp.proto.http", "otlp"),
    "prometheus": ("prometheus_client", "prometheus"),
}


#: The samplers of ``OTEL_TRACES_SAMPLER`` agentrt's span pipeline implements.
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)

_Interval = Annotated[float, Bounds(low=0, open_low=True, high=86_400, unit=" s")]


@dataclass(frozen=True, kw_only=True)
class OTelConfig:
    """OpenTelemetry export (see the module docs); everything off by default.

    A setting left None takes the standard ``OTEL_*`` environment variable when it is
    set (``resolve``; the runtime resolves against ``os.environ`` when it starts), else
    the default in brackets:

    - ``metrics`` (``OTEL_METRICS_EXPORTER``, else "none"): "console", "otlp" or
      "prometheus".
    - ``traces`` (``OTEL_TRACES_EXPORTER``, else "none"): "console" or "otlp".
    - ``service_name`` (``OTEL_SERVICE_NAME``, else ``service.name`` in
      ``OTEL_RESOURCE_ATTRIBUTES``, else "agentrt"): the resource's ``service.name``.
      The resource also carries ``OTEL_RESOURCE_ATTRIBUTES``, the detectors
      ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS`` names (the SDK's ``Resource.create``),
      and ``resource_attributes`` ({}) over them.
    - ``endpoint`` (None: the OTLP exporters' own ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
      ``OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT``, else http://localhost:4318):
      the OTLP/HTTP collector; ``/v1/metrics`` and ``/v1/traces`` are appended.
    - ``headers`` ({}: the exporters read ``OTEL_EXPORTER_OTLP_HEADERS``): extra OTLP
      request headers (credentials: never shown in repr).
    - ``export_interval_s`` (``OTEL_METRIC_EXPORT_INTERVAL``, in ms, else 10 s): how
      often console/OTLP metrics are pushed.
    - ``sampler`` (``OTEL_TRACES_SAMPLER``, else "parentbased_always_on") and
      ``sampler_arg`` (``OTEL_TRACES_SAMPLER_ARG``, else 1.0: the ratio of the
      ``traceidratio`` samplers): which traces agentrt's span pipeline records
      (``SAMPLERS``); a parent-based sampler follows the caller's sampled flag.
    - ``span_flush_s`` (1): how often ended spans are exported (and whenever 512 wait).
    - ``prometheus_host`` ("127.0.0.1"), ``prometheus_port`` (9464; 0 picks a free port):
      where the scrape endpoint ``/metrics`` listens.
    - ``exemplar_ids`` (True): exemplars carry ``gen_ai.agent.id`` as a filtered
      attribute (the metric streams never do).

    ``OTEL_SDK_DISABLED=true`` turns every export off. A bad environment value is a
    ``ConfigError`` naming the variable.

    Example: ``OTelConfig(metrics="otlp", traces="otlp", service_name="swarm")``
    """

    metrics: MetricsExporter | None = None
    traces: TracesExporter | None = None
    service_name: str | None = None
    resource_attributes: dict[str, str] = field(default_factory=dict)
    endpoint: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    export_interval_s: _Interval | None = None
    sampler: str | None = None
    sampler_arg: Annotated[float, Bounds(low=0, high=1)] | None = None
    span_flush_s: _Interval = 1.0
    prometheus_host: str = "127.0.0.1"
    prometheus_port: Port = 9464
    exemplar_ids: bool = True

    def __post_init__(self) -> None:
        if self.metrics not in (None, "none", "console", "otlp", "prometheus"):
            raise ConfigError("metrics", f"must be none/console/otlp/prometheus: {self.metrics!r}")
        if self.traces not in (None, "none", "console", "otlp"):
            raise ConfigError("traces", f"must be none/console/otlp, got {self.traces!r}")
        if self.service_name is not None and not self.service_name:
            raise ConfigError("service_name", "must not be empty")
        if self.endpoint is not None and not self.endpoint.startswith(("http://", "https://")):
            problem = f"must be an http(s) URL, got {redact_url(self.endpoint)!r}"
            raise ConfigError("endpoint", problem)
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise ConfigError("sampler", f"must be one of {', '.join(SAMPLERS)}: {self.sampler!r}")
        check_fields(self)  # NaN, inf (never exported), bools, negatives and the absurd
        if not self.prometheus_host:
            raise ConfigError("prometheus_host", "must not be empty")

    __repr__ = config_repr  # the endpoint URL's password masked; headers not shown

    @property
    def enabled(self) -> bool:
        """True when something is exported (None counts as "none": see ``resolve``)."""
        return self.metrics not in (None, "none") or self.traces not in (None, "none")

    def resolve(self, env: Mapping[str, str]) -> OTelConfig:
        """This config with every None setting taken from ``env``'s ``OTEL_*``
        variables, or its default (see the class docs); ``ConfigError`` names a bad
        variable."""
        disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower()
        if disabled not in ("", "true", "false"):
            raise ConfigError("OTEL_SDK_DISABLED", f"must be true or false, got {disabled!r}")
        metrics = self.metrics or _env_choice(
            env, "OTEL_METRICS_EXPORTER", ("none", "console", "otlp", "prometheus")
        )
        traces = self.traces or _env_choice(
            env, "OTEL_TRACES_EXPORTER", ("none", "console", "otlp")
        )
        if disabled == "true":
            metrics = traces = "none"
        interval = self.export_interval_s
        if interval is None:
            interval = _env_float(env, "OTEL_METRIC_EXPORT_INTERVAL", 10_000.0, 1, 86_400_000)
            interval /= 1000
        sampler = self.sampler or _env_choice(env, "OTEL_TRACES_SAMPLER", SAMPLERS)
        if sampler == "none":
            sampler = "parentbased_always_on"
        arg = self.sampler_arg
        if arg is None:
            arg = _env_float(env, "OTEL_TRACES_SAMPLER_ARG", 1.0, 0.0, 1.0)
        return replace(
            self,
            metrics=metrics,  # type: ignore[arg-type]
            traces=traces,  # type: ignore[arg-type]
            export_interval_s=interval,
            sampler=sampler,
            sampler_arg=arg,
        )


def _env_choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """The value of variable ``name`` (one of ``choices``), or "none" when unset."""
    value = env.get(name, "").strip().lower()
    if not value:
        return "none"
    if value not in (*choices, "none"):
        raise ConfigError(name, f"must be one of {', '.join(choices)} (agentrt), got {value!r}")
    return value


def _env_float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if not low <= value <= high:  # NaN fails too
        raise ConfigError(name, f"must be between {low:g} and {high:g}, got {raw!r}")
    return value


def require_extra(kind: str, key: str) -> None:
    """``ConfigError`` naming the extra to install when exporter ``kind`` is missing."""
    if kind not in _EXTRAS:
        return
    module, extra = _EXTRAS[kind]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            key,
            f"{kind!r} needs the {extra!r} extra: pip install 'agentrt-actors[{extra}]' ({exc})",
        ) from None


class OTelSession:
    """The OpenTelemetry side of one runtime (the runtime calls ``start``/``aclose``).

    Metrics are recorded into a ``meter_provider`` when one is given (the SDK's path);
    otherwise, when ``config.metrics`` or a ``metric_exporter`` asks for them, into an
    in-process ``MetricStore`` (``store``) exported as aggregates: every
    ``export_interval_s`` to the exporter (an SDK ``MetricExporter``: console, OTLP, or
    yours), or on each scrape of the Prometheus endpoint. Spans go to a given
    ``tracer_provider``, or, as plain data (``SpanRecorder``, ``spans``), in batches to
    the configured (or given ``span_exporter``) exporter every ``span_flush_s``.

    Owned here, and shut down by ``aclose`` (after a last export): the metric and span
    exporters, their export tasks, the endpoint. Given providers are the
    caller's and are never shut down. ``active`` is False when nothing is
    configured: then nothing is attached and nothing is built.

    Raises ``ConfigError`` at construction for a missing extra, or when one signal gets
    two destinations (a provider or exporter and a configured exporter: choose one).
    """

    def __init__(
        self,
        config: OTelConfig,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        metric_exporter: MetricExporter | None = None,
        span_exporter: SpanExporter | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        _one_of(
            "metrics",
            config.metrics or "none",
            meter_provider=meter_provider,
            metric_exporter=metric_exporter,
        )
        _one_of(
            "traces",
            config.traces or "none",
            tracer_provider=tracer_provider,
            span_exporter=span_exporter,
        )
        config = config.resolve(os.environ if env is None else env)
        require_extra(str(config.metrics), "telemetry.otel.metrics")
        require_extra(str(config.traces), "telemetry.otel.traces")
        self.config = config
        self.meter_provider: Any = meter_provider
        self.tracer_provider: Any = tracer_provider
        self._metric_exporter: Any = metric_exporter
        self._span_exporter: Any = span_exporter
        self.spans: SpanRecorder | None = None
        self.store: MetricStore | None = None
        self.exporter: OTelExporter | None = None
        self.prometheus: PrometheusEndpoint | None = None
        self._resource: Any = None
        self._scope: Any = None
        self._export_task: asyncio.Task[None] | None = None
        self._span_task: asyncio.Task[None] | None = None
        self.exports = 0
        self.export_failures = 0

    @property
    def active(self) -> bool:
        """True when there is anything to record into."""
        return self.config.enabled or any(
            x is not None
            for x in (
                self.meter_provider,
                self.tracer_provider,
                self._metric_exporter,
                self._span_exporter,
            )
        )

    async def start(self, telemetry: Telemetry) -> None:
        """Build what the configuration asks for and attach the exporter to
        ``telemetry``'s events; on failure, what was built is closed again."""
        if not self.active or self.exporter is not None:
            return
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope

            from agentrt.telemetry._otel import OTelExporter

            self._resource = _resource(self.config, Resource)
            self._scope = InstrumentationScope("agentrt", __version__)
            await self._start_metrics(telemetry)
            self._start_traces()
            exporter = OTelExporter(
                meter_provider=self.meter_provider,
                store=self.store,
                tracer_provider=self.tracer_provider,
                spans=self.spans,
                ids_on_measurements=self.config.exemplar_ids and self.store is not None,
            )
            exporter.attach(telemetry)
            self.exporter = exporter
        except BaseException:
            await self.aclose()
            raise

    async def _start_metrics(self, telemetry: Telemetry) -> None:
        cfg = self.config
        if self.meter_provider is not None:
            return
        if cfg.metrics == "none" and self._metric_exporter is None:
            return
        from agentrt.telemetry._aggregates import MetricStore

        self.store = MetricStore(INSTRUMENTS)
        if cfg.metrics == "prometheus":
            await self._open_prometheus(self.store, telemetry)
            return
        if self._metric_exporter is None:
            self._metric_exporter = _metric_exporter(cfg)
        loop = asyncio.get_running_loop()
        interval = cfg.export_interval_s if cfg.export_interval_s is not None else 10.0
        self._export_task = loop.create_task(self._export_every(interval))

    def _start_traces(self) -> None:
        if self.tracer_provider is not None:
            return
        if self.config.traces == "none" and self._span_exporter is None:
            return
        if self._span_exporter is None:
            self._span_exporter = _span_exporter(self.config)
        from agentrt.telemetry._spans import SpanRecorder

        self.spans = SpanRecorder(
            self._span_exporter,
            self._resource,
            self._scope,
            sampler=self.config.sampler or "parentbased_always_on",
            ratio=self.config.sampler_arg if self.config.sampler_arg is not None else 1.0,
        )
        loop = asyncio.get_running_loop()
        self._span_task = loop.create_task(self._flush_spans_every(self.config.span_flush_s))

    async def _open_prometheus(self, store: MetricStore, telemetry: Telemetry) -> None:
        from prometheus_client import CollectorRegistry

        from agentrt.telemetry._prometheus import (
            PrometheusEndpoint,
            RuntimeCollector,
            StoreCollector,
        )

        registry = CollectorRegistry(auto_describe=False)
        collector = StoreCollector(store)
        runtime = RuntimeCollector(telemetry)
        registry.register(collector)
        registry.register(runtime)

        def freeze() -> None:
            collector.freeze()
            runtime.freeze()

        cfg = self.config
        endpoint = PrometheusEndpoint(
            registry,
            host=cfg.prometheus_host,
            port=cfg.prometheus_port,
            before_render=freeze,
        )
        await endpoint.start()
        self.prometheus = endpoint

    async def _export_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.export_metrics()

    async def _flush_spans_every(self, interval: float) -> None:
        spans = self.spans
        assert spans is not None
        while True:
            try:
                await asyncio.wait_for(spans.ready.wait(), interval)
            except TimeoutError:
                pass
            await self.export_spans()

    async def export_spans(self) -> bool:
        """Export the ended spans now (in a thread); False when there were none to
        export to or the exporter failed."""
        spans = self.spans
        if spans is None:
            return False
        taken = spans.take()
        return bool(taken) and await asyncio.to_thread(spans.export, taken)

    async def export_metrics(self) -> bool:
        """Export the store's metrics now (in a thread: the exporter may wait on the
        network); False when there is no exporter or the export failed (logged)."""
        exporter, store = self._metric_exporter, self.store
        if exporter is None or store is None:
            return False
        data = store.metrics_data(self._resource, self._scope)
        try:
            result = await asyncio.to_thread(exporter.export, data)
        except Exception as exc:
            result = exc
        self.exports += 1
        if getattr(result, "name", None) != "SUCCESS":
            self.export_failures += 1
            _log.warning("OpenTelemetry metric export failed: %r", result)
            return False
        return True

    async def flush(self) -> None:
        """Export metrics and flush spans now (tests, and before a process exits)."""
        await self.export_metrics()
        await self.export_spans()

    def stats(self) -> dict[str, Any]:
        return {
            "metrics": "provider" if self.meter_provider is not None else self.config.metrics,
            "spans": self.spans.stats() if self.spans is not None else None,
            "points": sum(len(self.store.points(n)) for n in INSTRUMENTS) if self.store else 0,
            "exports": self.exports,
            "export_failures": self.export_failures,
            "prometheus": self.prometheus.stats() if self.prometheus is not None else None,
        }

    async def aclose(self) -> None:
        """Detach the exporter, export a last time, close the endpoint, and shut down
        what this session built (in threads: an OTLP flush may wait on the network).
        Idempotent."""
        exporter, self.exporter = self.exporter, None
        if exporter is not None:
            exporter.detach()
        task, self._export_task = self._export_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.export_metrics()
        endpoint, self.prometheus = self.prometheus, None
        if endpoint is not None:
            await endpoint.aclose()
        metric_exporter, self._metric_exporter = self._metric_exporter, None
        if metric_exporter is not None and self.store is not None:
            await asyncio.to_thread(metric_exporter.shutdown)
        task, self._span_task = self._span_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.export_spans()
        span_exporter, self._span_exporter = self._span_exporter, None
        self.spans = None
        if span_exporter is not None and self.tracer_provider is None:
            await asyncio.to_thread(span_exporter.shutdown)


def _one_of(signal: str, configured: str, **given: Any) -> None:
    named = [name for name, value in given.items() if value is not None]
    if configured != "none":
        named.append(f"telemetry.otel.{signal}={configured!r}")
    if len(named) > 1:
        raise ConfigError(
            f"telemetry.otel.{signal}", f"{' and '.join(named)} both given: choose one"
        )


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


def _url(endpoint: str | None, signal: str) -> str | None:
    """The signal's URL under ``endpoint``; None lets the exporter read the
    ``OTEL_EXPORTER_OTLP_*`` variables."""
    return None if endpoint is None else f"{endpoint.rstrip('/')}/v1/{signal}"


def _resource(cfg: OTelConfig, resource_class: Any) -> Any:
    """The SDK's ``Resource.create`` (``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_SERVICE_NAME``,
    the ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS``), ``service.name`` "agentrt" when none
    of them names one, then the config's attributes and service name over them."""
    resource = resource_class.create(dict(cfg.resource_attributes))
    name = resource.attributes.get("service.name", "")
    if cfg.service_name is not None:
        name = cfg.service_name
    elif not name or str(name).startswith("unknown_service"):
        name = "agentrt"
    return resource.merge(resource_class({"service.name": name}))


def _headers(cfg: OTelConfig) -> Mapping[str, str] | None:
    return dict(cfg.headers) or None
