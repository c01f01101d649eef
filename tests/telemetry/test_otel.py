"""OpenTelemetry metrics and spans recorded through a real Runtime (in-process mock LLM),
both through agentrt's own pipeline (exporters given: metrics aggregated in process) and
through SDK providers given to the runtime."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanKind, StatusCode
from support.agents import Helper, fast_config

from agentrt.agent import TURN_EVENT, Agent, Reply, Turn
from agentrt.llm import CHAT_EVENT, PoolConfig, ProviderConfig, ProviderUnavailable, RetryPolicy
from agentrt.runtime import Runtime, TelemetryConfig
from agentrt.telemetry import METRIC_ATTRIBUTES, metric_views
from agentrt.telemetry import _otel as otel_module
from agentrt.telemetry._aggregates import MetricStore
from agentrt.telemetry._otel import OTelExporter
from agentrt.testing import InMemoryOTel, MockProvider
from agentrt.tools import TOOL_EVENT

NAMES = {
    "gen_ai.invoke_agent.duration": "s",
    "gen_ai.client.operation.duration": "s",
    "gen_ai.client.token.usage": "{token}",
    "gen_ai.client.operation.time_to_first_chunk": "s",
    "gen_ai.execute_tool.duration": "s",
}
WEATHER = '[[tool:weather {"city": "Rome"}]]'


class Recorder(InMemoryOTel):
    def __init__(self, pipeline: str) -> None:
        super().__init__()
        self.pipeline = pipeline

    def runtime_kwargs(self) -> dict[str, Any]:
        return self.exporters() if self.pipeline == "exporters" else self.providers()


@pytest.fixture(params=["exporters", "providers"])
def otel(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    with Recorder(request.param) as recorder:
        yield recorder


def _runtime(otel: Recorder, **kwargs: Any) -> Runtime:
    return Runtime(kwargs.pop("config", fast_config()), **otel.runtime_kwargs(), **kwargs)


def test_event_names_match_the_emitters() -> None:
    assert otel_module._TURN == TURN_EVENT
    assert otel_module._CHAT == CHAT_EVENT
    assert otel_module._TOOL == TOOL_EVENT


async def test_metric_names_units_and_low_cardinality_attributes(otel: Recorder) -> None:
    async with _runtime(otel) as rt:
        await rt.spawn(Helper, id="helper-1")
        await rt.ask("helper-1", WEATHER)
        async for _ in rt.stream("helper-1", "[[words:5]]"):
            pass
    metrics = otel.metrics()
    assert {name: m.unit for name, m in metrics.items()} == NAMES
    for metric in metrics.values():
        for point in metric.data.data_points:
            attrs = dict(point.attributes)
            assert set(attrs) <= METRIC_ATTRIBUTES, metric.name
            assert "helper-1" not in attrs.values(), metric.name
    (turns,) = otel.points("gen_ai.invoke_agent.duration")
    assert turns.count == 2
    assert dict(turns.attributes) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "Helper",
        "gen_ai.request.model": "mock",
    }
    (chats,) = otel.points("gen_ai.client.operation.duration")
    assert chats.count == 3  # tool call, answer, streamed answer
    assert dict(chats.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "mock",
        "gen_ai.provider.name": "mock",
        "gen_ai.agent.name": "Helper",
    }
    tokens = {p.attributes["gen_ai.token.type"]: p for p in otel.points(TOKEN_USAGE)}
    assert set(tokens) == {"input", "output"}
    assert tokens["input"].count == 3
    assert tokens["input"].sum > tokens["output"].sum > 0
    (ttfc,) = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1  # only the streamed call
    (tool,) = otel.points("gen_ai.execute_tool.duration")
    assert dict(tool.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "weather",
        "gen_ai.agent.name": "Helper",
    }


TOKEN_USAGE = "gen_ai.client.token.usage"


async def test_many_agents_share_one_attribute_set(otel: Recorder) -> None:
    async with _runtime(otel) as rt:
        ids = await rt.spawn_swarm(Helper, 40)
        for agent_id in ids:
            await rt.ask(agent_id, "hi")
    (point,) = otel.points("gen_ai.invoke_agent.duration")
    assert point.count == 40
    # exponential buckets: the histogram has the values, not just a count
    assert point.scale > 0
    assert sum(point.positive.bucket_counts) == 40


async def test_spans_nest_under_the_turn(otel: Recorder) -> None:
    async with _runtime(otel) as rt:
        await rt.spawn(Helper, id="helper-1")
        await rt.ask("helper-1", WEATHER)
        await rt.ask("helper-1", "again")
    spans = otel.spans()
    assert [s.name for s in spans] == [
        "chat mock",
        "execute_tool weather",
        "chat mock",
        "invoke_agent Helper",
        "chat mock",
        "invoke_agent Helper",
    ]
    first, second = spans[3], spans[5]
    assert first.parent is None
    assert second.parent is None
    assert first.context.trace_id != second.context.trace_id
    for child in spans[:3]:
        assert child.parent is not None
        assert child.parent.span_id == first.context.span_id
        assert child.context.trace_id == first.context.trace_id
    assert spans[4].parent is not None
    assert spans[4].parent.span_id == second.context.span_id
    assert first.kind == SpanKind.INTERNAL
    assert spans[0].kind == SpanKind.CLIENT
    assert first.attributes is not None
    assert first.attributes["gen_ai.agent.id"] == "helper-1"
    assert first.attributes["gen_ai.conversation.id"] == "helper-1"
    assert first.attributes["gen_ai.agent.name"] == "Helper"
    assert first.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert first.attributes["agentrt.turn.steps"] == 2
    chat = spans[0].attributes
    assert chat is not None
    assert chat["gen_ai.request.model"] == "mock"
    assert chat["gen_ai.provider.name"] == "mock"
    assert chat["gen_ai.agent.id"] == "helper-1"
    assert chat["gen_ai.usage.input_tokens"] > 0
    tool = spans[1].attributes
    assert tool is not None
    assert tool["gen_ai.tool.name"] == "weather"
    assert tool["gen_ai.tool.call.id"]
    assert all(s.status.status_code == StatusCode.UNSET for s in spans)
    # nothing leaked into the caller's context
    assert trace.get_current_span() is trace.INVALID_SPAN


class Router(Agent):
    """Asks a worker agent and answers with its reply."""

    async def respond(self, turn: Turn) -> Reply:
        reply = await self.ask("worker", turn.text)
        return self.make_reply(turn, f"worker said: {reply.text}")


async def test_turn_spans_follow_their_caller(otel: Recorder) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    async with _runtime(otel) as rt:
        await rt.spawn(Router, id="router")
        await rt.spawn(Helper, id="worker")
        with tracer.start_as_current_span("http request") as request:
            await rt.ask("router", "hello")
    by_name = {s.name: s for s in otel.spans()}
    router, worker = by_name["invoke_agent Router"], by_name["invoke_agent Helper"]
    assert router.parent is not None
    assert router.parent.span_id == request.context.span_id
    assert worker.parent is not None
    assert worker.parent.span_id == router.context.span_id
    chat = by_name["chat mock"]
    assert chat.parent is not None
    assert chat.parent.span_id == worker.context.span_id
    assert {s.context.trace_id for s in by_name.values()} == {request.context.trace_id}


async def test_llm_failure_marks_spans_and_metrics(otel: Recorder) -> None:
    mock = MockProvider(script=[ProviderUnavailable("primary", "down for maintenance")])
    provider = ProviderConfig(name="primary", kind="mock", retry=RetryPolicy(max_retries=0))
    cfg = replace(fast_config(), llm=PoolConfig(providers=(provider,)))
    async with _runtime(otel, config=cfg, llm_backends={"primary": mock}) as rt:
        await rt.spawn(Helper, id="h")
        with pytest.raises(Exception, match="down for maintenance"):
            await rt.ask("h", "hello")
    chat, turn = otel.spans()
    assert chat.status.status_code == StatusCode.ERROR
    assert chat.attributes is not None
    assert chat.attributes["error.type"] == "ProviderUnavailable"
    assert any(e.name == "exception" for e in chat.events)
    assert turn.status.status_code == StatusCode.ERROR
    assert turn.attributes is not None
    assert turn.attributes["error.type"] == "TurnFailed"
    # the provider system (not the config's name) from the span's start: failures too
    assert chat.attributes["gen_ai.provider.name"] == "mock"
    assert chat.attributes["agentrt.llm.provider"] == "primary"
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "ProviderUnavailable"
    assert point.attributes["gen_ai.provider.name"] == "mock"
    (turns,) = otel.points("gen_ai.invoke_agent.duration")
    assert turns.attributes["error.type"] == "TurnFailed"
    assert otel.points(TOKEN_USAGE) == []  # a failed call used no tokens we know of


async def test_tool_error_marks_its_span_and_metric(otel: Recorder) -> None:
    async with _runtime(otel) as rt:
        await rt.spawn(Helper, id="h")
        await rt.ask("h", '[[tool:broken {"x": 1}]]')
    tool = next(s for s in otel.spans() if s.name == "execute_tool broken")
    assert tool.status.status_code == StatusCode.ERROR
    assert tool.attributes is not None
    error = tool.attributes["error.type"]
    assert error
    assert error != "tool_error"
    (point,) = otel.points("gen_ai.execute_tool.duration")
    assert point.attributes["error.type"] == error


async def test_stats_off_still_exports(otel: Recorder) -> None:
    cfg = replace(fast_config(), telemetry=TelemetryConfig(stats=False))
    async with _runtime(otel, config=cfg) as rt:
        await rt.spawn(Helper, id="h")
        assert (await rt.ask("h", "hello")).text == "echo: hello"
        view = rt.telemetry.agent("h")
        assert view is not None
        assert view["turns"] == 0
        assert view["tokens_in"] == 0
        summary = rt.telemetry.summary()
        assert summary["turns"] == {"ok": 0, "failed": 0}
        assert summary["memory_op_ms"]["count"] == 0
    assert otel.span_names() == ["chat mock", "invoke_agent Helper"]


async def test_exemplars_carry_the_agent_id() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], views=metric_views(), shutdown_on_exit=False)
    with InMemoryOTel() as traces:
        exporter = OTelExporter(
            meter_provider=provider,
            tracer_provider=traces.tracer_provider,
            ids_on_measurements=True,
        )
        async with Runtime(fast_config()) as rt:
            exporter.attach(rt.telemetry)
            await rt.spawn(Helper, id="agent-7")
            await rt.ask("agent-7", "hi")
            exporter.detach()
            assert rt.telemetry.events.handlers() == {}
            assert rt.telemetry.trace_context is None
        turn = next(s for s in traces.spans() if s.name.startswith("invoke_agent"))
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: m for m in data.resource_metrics[0].scope_metrics[0].metrics}
    (point,) = metrics["gen_ai.invoke_agent.duration"].data.data_points
    assert "gen_ai.agent.id" not in point.attributes
    (exemplar,) = point.exemplars
    assert exemplar.filtered_attributes == {
        "gen_ai.agent.id": "agent-7",
        "gen_ai.conversation.id": "agent-7",
    }
    assert exemplar.span_id == turn.context.span_id
    provider.shutdown()


async def test_store_exemplars_hold_the_slowest_turn_and_its_agent() -> None:
    with InMemoryOTel() as otel:
        async with Runtime(fast_config(), **otel.exporters()) as rt:
            await rt.spawn(Helper, id="quick")
            await rt.spawn(Helper, id="slow")
            await rt.ask("quick", "hi")
            await rt.ask("slow", '[[tool:slow {"seconds": 0.05}]]')
            await rt.otel.flush()
            assert rt.otel.stats()["exports"] == 1
            (point,) = otel.points("gen_ai.invoke_agent.duration")
            (exemplar,) = point.exemplars
            assert exemplar.filtered_attributes == {
                "gen_ai.agent.id": "slow",
                "gen_ai.conversation.id": "slow",
            }
            assert exemplar.value == point.max >= 0.05
            await rt.otel.flush()  # an exemplar is exported once
            (point,) = otel.points("gen_ai.invoke_agent.duration")
            assert point.exemplars == []
        (slow_turn,) = [
            s
            for s in otel.spans()
            if s.name == "invoke_agent Helper" and (s.attributes or {})["gen_ai.agent.id"] == "slow"
        ]
        assert exemplar.span_id == slow_turn.context.span_id
        assert exemplar.trace_id == slow_turn.context.trace_id
        assert otel.metric_exporter.shut_down  # the runtime's pipeline closed its exporter


async def test_an_exporter_attaches_once_and_needs_a_provider() -> None:
    with pytest.raises(ValueError, match="needs a meter_provider"):
        OTelExporter()
    with InMemoryOTel() as otel, pytest.raises(ValueError, match="or a store"):
        OTelExporter(meter_provider=otel.meter_provider, store=MetricStore({}))
    with InMemoryOTel() as otel:
        exporter = OTelExporter(meter_provider=otel.meter_provider)
        assert not exporter.tracing
        async with Runtime(fast_config()) as rt:
            exporter.attach(rt.telemetry)
            with pytest.raises(ValueError, match="already attached"):
                exporter.attach(rt.telemetry)
            assert rt.telemetry.trace_context is None  # metrics only: turns carry nothing
            await rt.spawn(Helper, id="h")
            await rt.ask("h", "hi")
        assert otel.spans() == []
        assert otel.points("gen_ai.invoke_agent.duration")[0].count == 1
    assert otel_context.get_current() == otel_context.Context()
