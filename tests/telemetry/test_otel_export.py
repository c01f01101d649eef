"""OpenTelemetry export configured on the runtime: nothing by default, console, OTLP over
HTTP to a real collector socket, a Prometheus endpoint scraped over HTTP, provider
ownership and shutdown, the global SDK left alone, missing extras."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from support.agents import Helper, fast_config
from support.waiting import eventually

from agentrt.errors import ConfigError
from agentrt.runtime import Runtime, RuntimeConfig, TelemetryConfig
from agentrt.telemetry import OTelConfig
from agentrt.testing import InMemoryOTel


def _config(**otel: Any) -> RuntimeConfig:
    return replace(fast_config(), telemetry=TelemetryConfig(otel=OTelConfig(**otel)))


@pytest.fixture
def shutdowns(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Providers whose shutdown() was called."""
    calls: list[Any] = []
    for cls in (MeterProvider, TracerProvider):
        original = cls.shutdown

        def spy(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(self)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "shutdown", spy)
    return calls


@pytest.fixture
def no_globals(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail on any attempt to configure the global SDK; check it is unchanged after."""

    def refuse(*_: Any) -> None:
        raise AssertionError("agentrt must not set a global OpenTelemetry provider")

    monkeypatch.setattr(trace, "set_tracer_provider", refuse)
    monkeypatch.setattr(metrics, "set_meter_provider", refuse)
    tracer_provider, meter_provider = trace.get_tracer_provider(), metrics.get_meter_provider()
    yield
    assert trace.get_tracer_provider() is tracer_provider
    assert metrics.get_meter_provider() is meter_provider


async def test_nothing_is_attached_when_unconfigured(shutdowns: list[Any]) -> None:
    async with Runtime(fast_config()) as rt:
        assert not rt.otel.active
        assert rt.otel.exporter is None
        assert rt.telemetry.events.handlers() == {}
        assert rt.telemetry.trace_context is None
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "hi")
        assert rt.otel.meter_provider is None
        assert rt.otel.tracer_provider is None
    assert shutdowns == []


async def test_console_export_flushed_at_close(
    capfd: pytest.CaptureFixture[str], shutdowns: list[Any], no_globals: None
) -> None:
    rt = Runtime(_config(metrics="console", traces="console", export_interval_s=60))
    async with rt:
        assert rt.otel.active
        assert rt.otel.exporter is not None
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "hi")
        # agentrt's own pipeline: in-process aggregates and span records, no providers
        assert rt.otel.meter_provider is None
        assert rt.otel.tracer_provider is None
        assert rt.otel.store is not None
        assert rt.otel.spans is not None
    assert shutdowns == []
    assert rt.otel.spans is None  # the span processor was shut down (flushed)
    out = capfd.readouterr().out
    assert '"name": "invoke_agent Helper"' in out  # spans flushed at shutdown
    assert '"name": "gen_ai.invoke_agent.duration"' in out  # final metric export
    assert rt.telemetry.events.handlers() == {}  # detached on close


async def test_given_providers_are_used_never_shut_down(
    shutdowns: list[Any], no_globals: None
) -> None:
    with InMemoryOTel() as otel:
        async with Runtime(
            fast_config(), meter_provider=otel.meter_provider, tracer_provider=otel.tracer_provider
        ) as rt:
            await rt.spawn(Helper, id="h")
            await rt.ask("h", "hi")
        assert shutdowns == []
        assert otel.span_names() == ["chat mock", "invoke_agent Helper"]
        assert otel.points("gen_ai.invoke_agent.duration")[0].count == 1


def test_two_destinations_for_one_signal_conflict() -> None:
    with InMemoryOTel() as otel:
        with pytest.raises(ConfigError, match="meter_provider and telemetry") as info:
            Runtime(_config(metrics="console"), meter_provider=otel.meter_provider)
        assert info.value.key == "telemetry.otel.metrics"
        with pytest.raises(ConfigError, match="tracer_provider and span_exporter"):
            Runtime(
                fast_config(),
                tracer_provider=otel.tracer_provider,
                span_exporter=otel.span_exporter,
            )
        with pytest.raises(ConfigError, match="metric_exporter and telemetry"):
            Runtime(_config(metrics="prometheus"), metric_exporter=otel.metric_exporter)


@pytest.mark.parametrize(
    ("otel", "module", "extra"),
    [
        ({"metrics": "otlp"}, "opentelemetry.exporter.otlp.proto.http", "otlp"),
        ({"traces": "otlp"}, "opentelemetry.exporter.otlp.proto.http", "otlp"),
        ({"metrics": "prometheus"}, "prometheus_client", "prometheus"),
    ],
)
def test_a_missing_extra_is_named(
    monkeypatch: pytest.MonkeyPatch, otel: dict[str, str], module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with pytest.raises(ConfigError, match=rf"pip install 'agentrt-actors\[{extra}\]'") as info:
        Runtime(_config(**otel))
    assert info.value.key.startswith("telemetry.otel.")


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"metrics": "statsd"}, "metrics"),
        ({"traces": "prometheus"}, "traces"),
        ({"endpoint": "127.0.0.1:4318"}, "endpoint"),
        ({"export_interval_s": 0}, "export_interval_s"),
        ({"prometheus_port": 70000}, "prometheus_port"),
        ({"service_name": ""}, "service_name"),
    ],
)
def test_config_is_validated(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        OTelConfig(**kwargs)
    assert info.value.key == key


def test_config_hides_headers_and_loads_from_toml(tmp_path: Any) -> None:
    cfg = OTelConfig(traces="otlp", headers={"authorization": "Bearer s3cret"})
    assert "s3cret" not in repr(cfg)
    path = tmp_path / "agentrt.toml"
    path.write_text(
        '[telemetry]\nstats = false\n[telemetry.otel]\nmetrics = "prometheus"\n'
        "prometheus_port = 0\n"
    )
    loaded = RuntimeConfig.load(path)
    assert loaded.telemetry.stats is False
    assert loaded.telemetry.otel.metrics == "prometheus"
    assert loaded.telemetry.otel.prometheus_port == 0


async def test_metrics_are_exported_every_interval_and_no_task_is_left(
    no_globals: None,
) -> None:
    with InMemoryOTel() as otel:
        rt = Runtime(_config(export_interval_s=0.01), metric_exporter=otel.metric_exporter)
        async with rt:
            await rt.spawn(Helper, id="h")
            await rt.ask("h", "hi")
            # The export task runs every 10 ms. An export that began before the turn
            # ended carries no turn yet: wait for one that carries it, while the
            # runtime is still open (so it was the periodic task, not the last flush).
            points = await eventually(
                lambda: otel.points("gen_ai.invoke_agent.duration"),
                what="a periodic export carrying the turn",
            )
            assert points[0].count == 1
            # the exporter holds the points before the export is counted: wait for both
            await eventually(lambda: rt.otel.stats()["exports"] >= 1, what="the export counted")
        assert otel.metric_exporter.shut_down
        assert rt.otel.stats()["export_failures"] == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_prometheus_endpoint_scraped_over_http(no_globals: None) -> None:
    rt = Runtime(_config(metrics="prometheus", prometheus_port=0))
    async with rt:
        endpoint = rt.otel.prometheus
        assert endpoint is not None
        assert endpoint.url.startswith("http://127.0.0.1:")
        await rt.spawn(Helper, id="helper-9")
        await rt.ask("helper-9", '[[tool:weather {"city": "Oslo"}]]')
        async with aiohttp.ClientSession() as http, http.get(endpoint.url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = await resp.text()
        assert endpoint.stats()["scrapes"] == 1
    lines = text.splitlines()
    count = next(line for line in lines if line.startswith("gen_ai_invoke_agent_duration_seconds"))
    assert 'gen_ai_agent_name="Helper"' in count
    assert any(line.startswith("gen_ai_client_token_usage") for line in lines)
    assert any('gen_ai_tool_name="weather"' in line for line in lines)
    prefix = "gen_ai_invoke_agent_duration_seconds_bucket"
    buckets = [line for line in lines if line.startswith(prefix)]
    les = {line.split('le="')[1].split('"')[0] for line in buckets}
    assert len(les) == 15  # the semantic conventions' 14 boundaries, then +Inf
    assert "helper-9" not in text
    async with aiohttp.ClientSession() as http:  # closed with the runtime
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(endpoint.url)


async def test_prometheus_port_in_use_is_a_config_error() -> None:
    async with Runtime(_config(metrics="prometheus", prometheus_port=0)) as rt:
        assert rt.otel.prometheus is not None
        port = rt.otel.prometheus.port
        other = Runtime(_config(metrics="prometheus", prometheus_port=port))
        with pytest.raises(ConfigError, match="cannot listen") as info:
            await other.start()
        assert info.value.key == "telemetry.otel.prometheus_port"
        assert other.otel.exporter is None


class Collector:
    """An OTLP/HTTP collector on a local socket that keeps the requests it gets."""

    def __init__(self) -> None:
        self.requests: dict[str, list[bytes]] = {"/v1/traces": [], "/v1/metrics": []}
        self.headers: list[str] = []
        self.url = ""

    async def receive(self, request: web.Request) -> web.Response:
        self.requests[request.path].append(await request.read())
        self.headers.append(request.headers.get("authorization", ""))
        return web.Response(body=b"", content_type="application/x-protobuf")


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    col = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", col.receive)
    app.router.add_post("/v1/metrics", col.receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    col.url = f"http://127.0.0.1:{port}"
    yield col
    await runner.cleanup()


async def test_otlp_http_export_reaches_a_collector(collector: Collector, no_globals: None) -> None:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    cfg = _config(
        metrics="otlp",
        traces="otlp",
        endpoint=collector.url,
        headers={"authorization": "Bearer t0ken"},
        service_name="swarm-test",
    )
    async with Runtime(cfg) as rt:
        await rt.spawn(Helper, id="h")
        await rt.ask("h", "hello")
    await asyncio.sleep(0)  # the shutdown flushed both signals before aclose returned
    spans = []
    for body in collector.requests["/v1/traces"]:
        req = ExportTraceServiceRequest.FromString(body)
        for resource in req.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            assert service["service.name"] == "swarm-test"
            spans += [s.name for scope in resource.scope_spans for s in scope.spans]
    assert sorted(spans) == ["chat mock", "invoke_agent Helper"]
    names = set()
    for body in collector.requests["/v1/metrics"]:
        req = ExportMetricsServiceRequest.FromString(body)
        for resource in req.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    names.add(metric.name)
                    if metric.name == "gen_ai.invoke_agent.duration":
                        assert metric.WhichOneof("data") == "exponential_histogram"
    assert "gen_ai.invoke_agent.duration" in names
    assert "gen_ai.client.token.usage" in names
    assert set(collector.headers) == {"Bearer t0ken"}
