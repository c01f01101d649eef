"""OpenTelemetry by the conventions: a chat span over real HTTP carries the provider
system, the server and the response attributes; the standard ``OTEL_*`` environment
variables and the resource; the parent-based ratio sampler; log records with agent,
turn and trace ids, and the JSON formatter."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from support.agents import Helper, fast_config

from agentrt.errors import ConfigError
from agentrt.llm import MockLLMServer, PoolConfig, ProviderConfig, RetryPolicy, serve_mock_llm
from agentrt.runtime import Runtime
from agentrt.telemetry import JsonFormatter, LogContextFilter, OTelConfig, OTelSession
from agentrt.telemetry._exporters import _resource
from agentrt.telemetry._spans import SpanRecorder
from agentrt.testing import InMemoryOTel


@pytest.fixture
async def server() -> AsyncIterator[MockLLMServer]:
    async with serve_mock_llm() as running:
        yield running


async def test_chat_span_names_provider_server_and_response(server: MockLLMServer) -> None:
    provider = ProviderConfig(
        name="primary", kind="openai", base_urls=(server.url,), retry=RetryPolicy(max_retries=0)
    )
    cfg = replace(fast_config(), llm=PoolConfig(providers=(provider,)))
    with InMemoryOTel() as otel:
        async with Runtime(cfg, **otel.exporters()) as rt:
            await rt.spawn(Helper, id="h")
            await rt.ask("h", "hello")
            await rt.otel.flush()
        chat = next(s for s in otel.spans() if s.name.startswith("chat "))
        points = otel.points("gen_ai.client.operation.duration")
    attrs = chat.attributes or {}
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["agentrt.llm.provider"] == "primary"
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == int(server.url.split(":")[2].split("/")[0])
    assert attrs["gen_ai.response.model"]
    assert attrs["gen_ai.response.id"]
    assert tuple(attrs["gen_ai.response.finish_reasons"]) == ("stop",)
    assert points[0].attributes["gen_ai.provider.name"] == "openai"


def test_otel_environment_variables_fill_what_the_config_leaves_unset() -> None:
    env = {
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "otlp",
        "OTEL_METRIC_EXPORT_INTERVAL": "2500",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.25",
    }
    resolved = OTelConfig().resolve(env)
    assert (resolved.traces, resolved.metrics) == ("console", "otlp")
    assert resolved.export_interval_s == 2.5
    assert (resolved.sampler, resolved.sampler_arg) == ("parentbased_traceidratio", 0.25)
    explicit = OTelConfig(traces="none", sampler="always_on").resolve(env)
    assert (explicit.traces, explicit.sampler) == ("none", "always_on")  # the config wins
    default = OTelConfig().resolve({})
    assert (default.metrics, default.traces, default.sampler) == (
        "none",
        "none",
        "parentbased_always_on",
    )
    off = OTelConfig(traces="otlp").resolve({"OTEL_SDK_DISABLED": "true"})
    assert not off.enabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ("OTEL_TRACES_SAMPLER_ARG", "nan"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "soon"),
        ("OTEL_SDK_DISABLED", "maybe"),
    ],
)
def test_a_bad_environment_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        OTelSession(OTelConfig(), env={name: value})
    assert info.value.key == name


def test_resource_from_environment_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod,team=ai")
    plain = _resource(OTelConfig(), Resource).attributes
    assert plain["service.name"] == "agentrt"
    assert plain["deployment.environment"] == "prod"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "swarm-eu")
    assert _resource(OTelConfig(), Resource).attributes["service.name"] == "swarm-eu"
    given = _resource(
        OTelConfig(service_name="mine", resource_attributes={"team": "core"}), Resource
    ).attributes
    assert (given["service.name"], given["team"]) == ("mine", "core")


def _recorder(sampler: str, ratio: float = 1.0) -> tuple[SpanRecorder, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    scope = InstrumentationScope("t")
    return SpanRecorder(
        exporter, Resource.create({}), scope, sampler=sampler, ratio=ratio
    ), exporter


def _parent(sampled: bool) -> Context:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    span = NonRecordingSpan(SpanContext(0xABC, 0xDEF, True, flags))
    return trace.set_span_in_context(span, Context())


def test_parent_based_sampler_follows_the_parent_flag() -> None:
    spans, exporter = _recorder("parentbased_traceidratio", ratio=1.0)
    handle, ctx = spans.start("kept", SpanKind.INTERNAL, {}, _parent(sampled=True))
    child, _ = spans.start("child", SpanKind.CLIENT, {}, ctx)
    spans.end(child, None, None, None)
    spans.end(handle, None, None, None)
    dropped, ctx = spans.start("dropped", SpanKind.INTERNAL, {}, _parent(sampled=False))
    assert not trace.get_current_span(ctx).get_span_context().trace_flags.sampled
    grandchild, _ = spans.start("under it", SpanKind.CLIENT, {}, ctx)
    spans.end(grandchild, None, None, None)
    spans.end(dropped, None, None, None)
    spans.export(spans.take())
    assert [s.name for s in exporter.get_finished_spans()] == ["child", "kept"]
    assert spans.stats()["unsampled"] == 2


def test_ratio_sampler_decides_roots_by_trace_id_like_the_sdk() -> None:
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    spans, _ = _recorder("parentbased_traceidratio", ratio=0.25)
    sdk = TraceIdRatioBased(0.25)
    decisions = []
    for _ in range(400):
        handle, _ctx = spans.start("root", SpanKind.INTERNAL, {}, Context())
        context = handle.get_span_context()
        expected = sdk.should_sample(None, context.trace_id, "root").decision.is_sampled()
        assert context.trace_flags.sampled == expected
        decisions.append(expected)
    assert 0 < sum(decisions) < 400  # both outcomes happen at a ratio of 0.25
    never, _ = _recorder("always_off")
    assert not never.start("x", SpanKind.INTERNAL, {}, _parent(True))[0].context.trace_flags.sampled
    with pytest.raises(ValueError, match="unknown sampler"):
        _recorder("sometimes")


async def test_log_records_carry_agent_turn_and_trace_ids() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.agent-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    class Logging(Helper):
        async def respond(self, turn: Any) -> Any:
            logger.info("answering %s", turn.text, extra={"custom": 7})
            return await super().respond(turn)

    try:
        with InMemoryOTel() as otel:
            async with Runtime(fast_config(), **otel.exporters()) as rt:
                await rt.spawn(Logging, id="talker")
                await rt.ask("talker", "hi")
                await rt.ask("talker", "again")
                await rt.otel.flush()
            turn_spans = [s for s in otel.spans() if s.name.startswith("invoke_agent")]
        logger.info("outside any turn")
    finally:
        logger.removeHandler(handler)
    first, second, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "answering hi"
    assert first["agent_id"] == "talker"
    assert first["model"]
    assert first["custom"] == 7
    assert first["turn_id"] != second["turn_id"]
    assert first["level"] == "INFO"
    assert first["logger"] == "tests.agent-logs"
    assert first["time"].endswith("Z")
    trace_ids = {f"{s.context.trace_id:032x}" for s in turn_spans}
    assert first["otelTraceID"] in trace_ids
    assert first["otelTraceSampled"] is True
    assert "agent_id" not in outside  # None values are left out
    assert outside["otelTraceID"] == "0" * 32
