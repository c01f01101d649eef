"""``OTelExporter``: agentrt's telemetry events as OpenTelemetry metrics and spans.

It attaches one handler to a runtime's ``Events`` and follows the GenAI semantic
conventions. Metrics (histograms):

- ``gen_ai.invoke_agent.duration`` (s): each agent turn.
- ``gen_ai.client.operation.duration`` (s): each LLM chat or stream call.
- ``gen_ai.client.token.usage`` ({token}): input and output tokens of each call
  (``gen_ai.token.type`` = ``input`` / ``output``; a count of 0 is not recorded).
- ``gen_ai.client.operation.time_to_first_chunk`` (s): streamed calls.
- ``gen_ai.execute_tool.duration`` (s): each tool call.

Metric attributes are low-cardinality only: ``gen_ai.operation.name``,
``gen_ai.request.model``, ``gen_ai.provider.name``, ``gen_ai.agent.name`` (the agent
class), ``gen_ai.tool.name``, ``error.type``. Never the agent id: the SDK keeps at most
2,000 attribute sets per instrument and folds the rest into an overflow point.

Spans: ``invoke_agent {agent class}`` (INTERNAL) for a turn, with ``chat {model}`` (CLIENT)
and ``execute_tool {tool}`` (INTERNAL) as its children; a chat span carries, from its
start, ``gen_ai.provider.name`` (the provider system: ``openai``, ``anthropic``, ``mock``),
``server.address``/``server.port`` and ``agentrt.llm.provider`` (the pool's provider
config name), and once answered ``gen_ai.response.model``, ``gen_ai.response.id`` and
``gen_ai.response.finish_reasons``; ``gen_ai.agent.id`` and
``gen_ai.conversation.id`` (the agent id: one conversation per agent) are on the spans.
A span starts on the event's ``start``, lives in the event span's ``state``, and its
context is attached in the emitting task until ``stop``/``exception`` (both happen in the
task that started it), so spans opened meanwhile, ours or the user's, nest under it. A
turn span's parent is the trace context its caller captured (``Telemetry.trace_context``,
carried by the turn), or none: a new trace, never whatever the actor worker happened to
inherit. Failures set the span status to ERROR and ``error.type`` (the exception class,
or a tool's error kind) on spans and metrics.

Where metrics go: into a ``MetricStore`` (agentrt's own pipeline, used when the runtime
builds the exporters: in-process aggregates, ~0.5 µs a measurement, exported as
aggregates), or through a ``meter_provider``'s instruments (yours, any SDK setup: the
SDK's path costs 5-15 µs a measurement, four per turn).

Exemplars: with a store, each data point carries the largest value of the export
interval with its span and agent id. With a meter provider, measurements are recorded in
their span's context, so the SDK's trace-based exemplar filter links them to the span
(which holds the agent id); ``ids_on_measurements=True`` also passes the ids as
measurement attributes, which the views of ``metric_views`` drop from the metric stream
and the SDK keeps on exemplars: only safe with such views.

Handlers run on the emitting task; with no exporter configured none of this is attached
and nothing is spent.

Example::

    exporter = OTelExporter(meter_provider=mp, tracer_provider=tp)
    exporter.attach(runtime.telemetry)   # ... later: exporter.detach()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind

from agentrt._version import __version__
from agentrt.telemetry._genai import (
    EXECUTE_TOOL_DURATION,
    INSTRUMENTS,
    INVOKE_AGENT_DURATION,
    OPERATION_DURATION,
    TIME_TO_FIRST_CHUNK,
    TOKEN_USAGE,
)
from agentrt.telemetry._spans import SdkSpans, SpanRecorder

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import TracerProvider

    from agentrt.telemetry._aggregates import MetricStore
    from agentrt.telemetry._telemetry import Telemetry

__all__ = ["OTelExporter"]

# The events (defined by the layers that emit them, which telemetry may not import;
# tests/telemetry check that they match).
_TURN = ("agentrt", "agent", "turn")
_CHAT = ("agentrt", "llm", "chat")
_TOOL = ("agentrt", "tool", "call")

_KEY = "otel"  # our entry in an event span's state
_AGENT = otel_context.create_key("agentrt.agent_class")  # the turn's agent class
_ROOT = Context()
_MAX_ATTRIBUTE_SETS = 4096  # cached attribute dicts (the SDK caps an instrument at 2,000)


def _pop_span(state: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The (span, context, context token) a start handler left in ``state``, or Nones."""
    entry = state.pop(_KEY, None)
    return entry if entry is not None else (None, None, None)


Handler = Callable[[Mapping[str, float], Mapping[str, Any], dict[str, Any]], None]
Builder = Callable[[tuple[Any, ...]], dict[str, Any]]


class OTelExporter:
    """Records agentrt's telemetry events as OpenTelemetry metrics and spans (module
    docs). Metrics go to a ``MetricStore`` (agentrt's own pipeline: in-process
    aggregates, ~0.5 µs a measurement) or through a ``meter_provider``'s instruments
    (the SDK's path, 5-15 µs); spans to ``tracer_provider``. Any of them may be None.
    The exporter never shuts providers down nor sets them globally."""

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        store: MetricStore | None = None,
        spans: SpanRecorder | None = None,
        ids_on_measurements: bool = False,
    ) -> None:
        if meter_provider is None and store is None and tracer_provider is None and spans is None:
            raise ValueError(
                "OTelExporter needs a meter_provider or a store, a tracer_provider or spans"
            )
        if meter_provider is not None and store is not None:
            raise ValueError("OTelExporter records metrics into a meter_provider or a store")
        if tracer_provider is not None and spans is not None:
            raise ValueError("OTelExporter records spans into a tracer_provider or spans")
        version = __version__
        self._spans: SdkSpans | SpanRecorder | None = spans
        if tracer_provider is not None:
            self._spans = SdkSpans(tracer_provider.get_tracer("agentrt", version))
        self._ids = ids_on_measurements
        self._store = store
        self._histograms: dict[str, Histogram] = {}
        if meter_provider is not None:
            meter = meter_provider.get_meter("agentrt", version)
            for name, (unit, description) in INSTRUMENTS.items():
                self._histograms[name] = meter.create_histogram(
                    name, unit=unit, description=description
                )
        self._metrics = store is not None or meter_provider is not None
        self._attrs: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._telemetry: Telemetry | None = None
        self.handler_id = f"agentrt.otel.{id(self):x}"
        self._dispatch: dict[tuple[str, ...], Handler] = {
            (*_TURN, "start"): self._turn_start,
            (*_TURN, "stop"): self._turn_stop,
            (*_TURN, "exception"): self._turn_stop,
            (*_CHAT, "stop"): self._chat_stop,
            (*_CHAT, "exception"): self._chat_stop,
            (*_TOOL, "stop"): self._tool_stop,
            (*_TOOL, "exception"): self._tool_stop,
        }
        if self._spans is not None:
            self._dispatch[(*_CHAT, "start")] = self._chat_start
            self._dispatch[(*_TOOL, "start")] = self._tool_start

    @property
    def tracing(self) -> bool:
        """True when spans are recorded."""
        return self._spans is not None

    def events(self) -> list[tuple[str, ...]]:
        """The events this exporter listens to."""
        return list(self._dispatch)

    def attach(self, telemetry: Telemetry) -> None:
        """Start recording ``telemetry``'s events (one handler, ``handler_id``); with
        spans, turns also carry their caller's trace context (``trace_context``).
        ``ValueError`` if already attached."""
        if self._telemetry is not None:
            raise ValueError("this OTelExporter is already attached")
        telemetry.events.attach(self.handler_id, self.events(), self._handle)
        if self._spans is not None:
            telemetry.trace_context = otel_context.get_current
        self._telemetry = telemetry

    def detach(self) -> None:
        """Stop recording (spans still open end without being recorded). Idempotent."""
        telemetry, self._telemetry = self._telemetry, None
        if telemetry is None:
            return
        telemetry.events.detach(self.handler_id)
        if telemetry.trace_context is otel_context.get_current:
            telemetry.trace_context = None

    def _handle(
        self,
        name: tuple[str, ...],
        measurements: Mapping[str, float],
        metadata: Mapping[str, Any],
        state: dict[str, Any],
    ) -> None:
        self._dispatch[name](measurements, metadata, state)

    # -- measurements ------------------------------------------------------------------------

    def _record(
        self,
        key: tuple[Any, ...],
        build: Builder,
        value: float,
        span: Any,
        ctx: Context | None,
        agent_id: Any,
    ) -> None:
        """Record ``value`` into metric ``key[0]`` with the attributes ``build(key)``."""
        store = self._store
        if store is not None:
            store.record(key, build, value, span, agent_id if self._ids else None)
            return
        attrs = self._attrs.get(key)
        if attrs is None:
            if len(self._attrs) >= _MAX_ATTRIBUTE_SETS:
                self._attrs.clear()
            attrs = self._attrs[key] = build(key)
        if self._ids and agent_id is not None:
            attrs = {**attrs, "gen_ai.agent.id": agent_id, "gen_ai.conversation.id": agent_id}
        self._histograms[key[0]].record(value, attrs, ctx)

    # -- turns (invoke_agent) ----------------------------------------------------------------

    def _turn_start(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        agent_class = meta["agent_class"]
        parent = meta.get("parent")
        ctx = otel_context.set_value(
            _AGENT, agent_class, parent if isinstance(parent, Context) else _ROOT
        )
        span = None
        spans = self._spans
        if spans is not None:
            agent_id = meta["agent_id"]
            span, ctx = spans.start(
                f"invoke_agent {agent_class}",
                SpanKind.INTERNAL,
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": agent_class,
                    "gen_ai.agent.id": agent_id,
                    "gen_ai.conversation.id": agent_id,
                    "gen_ai.request.model": meta["model"],
                },
                ctx,
            )
        state[_KEY] = (span, ctx, otel_context.attach(ctx))

    def _turn_stop(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        span, ctx, token = _pop_span(state)
        error = meta.get("kind")
        try:
            if self._metrics:
                key = (INVOKE_AGENT_DURATION, meta["agent_class"], meta["model"], error)
                self._record(
                    key, _turn_attributes, measurements["duration_s"], span, ctx, meta["agent_id"]
                )
            spans = self._spans
            if span is not None and spans is not None:
                attrs = None
                if error is None:
                    attrs = {
                        "gen_ai.usage.input_tokens": int(measurements.get("input_tokens", 0)),
                        "gen_ai.usage.output_tokens": int(measurements.get("output_tokens", 0)),
                        "agentrt.turn.steps": int(measurements.get("steps", 0)),
                    }
                spans.end(span, attrs, error, meta.get("reason"))
        finally:
            if token is not None:
                otel_context.detach(token)

    # -- LLM calls (chat) --------------------------------------------------------------------

    def _chat_start(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        spans = self._spans
        assert spans is not None
        model = meta["model"]
        attrs: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
        agent_id = meta.get("agent_id")
        if agent_id is not None:
            attrs["gen_ai.agent.id"] = agent_id
            attrs["gen_ai.conversation.id"] = agent_id
        if meta.get("temperature") is not None:
            attrs["gen_ai.request.temperature"] = meta["temperature"]
        if meta.get("max_tokens") is not None:
            attrs["gen_ai.request.max_tokens"] = meta["max_tokens"]
        _provider_attributes(attrs, meta)
        span, ctx = spans.start(f"chat {model}", SpanKind.CLIENT, attrs)
        state[_KEY] = (span, ctx, otel_context.attach(ctx))

    def _chat_stop(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        span, ctx, token = _pop_span(state)
        error = meta.get("kind")
        try:
            if self._metrics:
                self._chat_metrics(measurements, meta, error, span, ctx)
            spans = self._spans
            if span is not None and spans is not None:
                attrs: dict[str, Any] = {}
                _provider_attributes(attrs, meta)  # the provider that answered (failover)
                if error is None:
                    attrs["gen_ai.usage.input_tokens"] = int(measurements.get("input_tokens", 0))
                    attrs["gen_ai.usage.output_tokens"] = int(measurements.get("output_tokens", 0))
                    if meta.get("response_model"):
                        attrs["gen_ai.response.model"] = meta["response_model"]
                    if meta.get("response_id"):
                        attrs["gen_ai.response.id"] = meta["response_id"]
                    if meta.get("finish_reason"):
                        attrs["gen_ai.response.finish_reasons"] = (meta["finish_reason"],)
                spans.end(span, attrs, error, meta.get("reason"))
        finally:
            if token is not None:
                otel_context.detach(token)

    def _chat_metrics(
        self,
        measurements: Mapping[str, float],
        meta: Mapping[str, Any],
        error: str | None,
        span: Any,
        ctx: Context | None,
    ) -> None:
        model, provider = meta["model"], meta.get("provider")
        agent_class = otel_context.get_value(_AGENT)
        agent_id = meta.get("agent_id")
        record = self._record
        record(
            (OPERATION_DURATION, model, provider, agent_class, error),
            _chat_attributes,
            measurements["duration_s"],
            span,
            ctx,
            agent_id,
        )
        if error is not None:
            return
        ttft = measurements.get("ttft_s")
        if ttft is not None:
            key: tuple[Any, ...] = (TIME_TO_FIRST_CHUNK, model, provider, agent_class, None)
            record(key, _chat_attributes, ttft, span, ctx, agent_id)
        count = measurements.get("input_tokens", 0)
        if count:
            key = (TOKEN_USAGE, model, provider, agent_class, None, "input")
            record(key, _chat_attributes, count, span, ctx, agent_id)
        count = measurements.get("output_tokens", 0)
        if count:
            key = (TOKEN_USAGE, model, provider, agent_class, None, "output")
            record(key, _chat_attributes, count, span, ctx, agent_id)

    # -- tools (execute_tool) ----------------------------------------------------------------

    def _tool_start(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        spans = self._spans
        assert spans is not None
        tool = meta["tool"]
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.tool.type": "function",
        }
        if meta.get("call_id"):
            attrs["gen_ai.tool.call.id"] = meta["call_id"]
        agent_id = meta.get("agent_id")
        if agent_id is not None:
            attrs["gen_ai.agent.id"] = agent_id
            attrs["gen_ai.conversation.id"] = agent_id
        span, ctx = spans.start(f"execute_tool {tool}", SpanKind.INTERNAL, attrs)
        state[_KEY] = (span, ctx, otel_context.attach(ctx))

    def _tool_stop(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        span, ctx, token = _pop_span(state)
        error = meta.get("kind")
        if error is None and meta.get("ok") is False:
            error = meta.get("error") or "tool_error"
        try:
            if self._metrics:
                key = (EXECUTE_TOOL_DURATION, meta["tool"], otel_context.get_value(_AGENT), error)
                self._record(
                    key,
                    _tool_attributes,
                    measurements["duration_s"],
                    span,
                    ctx,
                    meta.get("agent_id"),
                )
            spans = self._spans
            if span is not None and spans is not None:
                cached = meta.get("cached")
                attrs = {"agentrt.tool.cached": bool(cached)} if cached is not None else None
                spans.end(span, attrs, error, meta.get("reason"))
        finally:
            if token is not None:
                otel_context.detach(token)


def _provider_attributes(attrs: dict[str, Any], meta: Mapping[str, Any]) -> None:
    """The provider's attributes of a chat span: ``gen_ai.provider.name`` (the system,
    e.g. ``openai``), ``server.address``/``server.port``, ``agentrt.llm.provider`` (the
    pool's config name)."""
    for key, attr in _PROVIDER_ATTRIBUTES:
        value = meta.get(key)
        if value is not None:
            attrs[attr] = value


_PROVIDER_ATTRIBUTES = (
    ("provider", "gen_ai.provider.name"),
    ("server_address", "server.address"),
    ("server_port", "server.port"),
    ("provider_config", "agentrt.llm.provider"),
)


# Attribute builders: metric key -> attributes (called once per attribute set).


def _drop_none(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}


def _turn_attributes(key: tuple[Any, ...]) -> dict[str, Any]:
    _, agent_class, model, error = key
    return _drop_none(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent_class,
            "gen_ai.request.model": model,
            "error.type": error,
        }
    )


def _chat_attributes(key: tuple[Any, ...]) -> dict[str, Any]:
    _, model, provider, agent_class, error, *token_type = key
    return _drop_none(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.provider.name": provider,
            "gen_ai.agent.name": agent_class,
            "gen_ai.token.type": token_type[0] if token_type else None,
            "error.type": error,
        }
    )


def _tool_attributes(key: tuple[Any, ...]) -> dict[str, Any]:
    _, tool, agent_class, error = key
    return _drop_none(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool,
            "gen_ai.agent.name": agent_class,
            "error.type": error,
        }
    )
