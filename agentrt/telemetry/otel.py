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
and ``execute_tool {tool}`` (INTERNAL) as its children; ``gen_ai.agent.id`` and
``gen_ai.conversation.id`` (the agent id: one conversation per agent) are on the spans.
A span starts on the event's ``start``, lives in the event span's ``state``, and its
context is attached in the emitting task until ``stop``/``exception`` (both happen in the
task that started it), so spans opened meanwhile, ours or the user's, nest under it. A
turn span's parent is the trace context its caller captured (``Telemetry.trace_context``,
carried by the turn), or none: a new trace, never whatever the actor worker happened to
inherit. Failures set the span status to ERROR and ``error.type`` (the exception class,
or a tool's error kind) on spans and metrics.

Exemplars: measurements are recorded in their span's context, so the SDK's default
trace-based exemplar filter links them to the span (whose attributes hold the agent id).
With ``ids_on_measurements=True`` the agent and conversation ids are also passed as
measurement attributes, which the views of ``metric_views`` drop from the metric stream
and the SDK keeps on exemplars as filtered attributes: only safe with such views.

Handlers run on the emitting task and cost a few microseconds per event (the SDK's);
with no exporter configured none of this is attached and nothing is spent.

Example::

    exporter = OTelExporter(meter_provider=mp, tracer_provider=tp)
    exporter.attach(runtime.telemetry)   # ... later: exporter.detach()
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from importlib import metadata
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics.view import (
    Aggregation,
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from agentrt.telemetry.telemetry import Telemetry

__all__ = [
    "EXECUTE_TOOL_DURATION",
    "INVOKE_AGENT_DURATION",
    "METRIC_ATTRIBUTES",
    "OPERATION_DURATION",
    "SECONDS_BUCKETS",
    "TIME_TO_FIRST_CHUNK",
    "TOKEN_BUCKETS",
    "TOKEN_USAGE",
    "OTelExporter",
    "metric_views",
]

OPERATION_DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
EXECUTE_TOOL_DURATION = "gen_ai.execute_tool.duration"
INVOKE_AGENT_DURATION = "gen_ai.invoke_agent.duration"

#: The only attributes metrics keep (``metric_views`` enforces it).
METRIC_ATTRIBUTES = frozenset(
    {
        "gen_ai.operation.name",
        "gen_ai.request.model",
        "gen_ai.provider.name",
        "gen_ai.agent.name",
        "gen_ai.tool.name",
        "gen_ai.token.type",
        "error.type",
    }
)

# The events (defined by the layers that emit them, which telemetry may not import;
# tests/telemetry check that they match).
_TURN = ("agentrt", "agent", "turn")
_CHAT = ("agentrt", "llm", "chat")
_TOOL = ("agentrt", "tool", "call")

_KEY = "otel"  # our entry in an event span's state
_AGENT = otel_context.create_key("agentrt.agent_class")  # the turn's agent class
_ROOT = Context()
_MAX_ATTRIBUTE_SETS = 4096  # cached attribute dicts (the SDK caps an instrument at 2,000)

# Explicit buckets for readers without exponential histograms (Prometheus): 4 per
# doubling (each ~19 % wide) from ~1 ms to 128 s, and 2 per doubling from 1 to ~2**20
# tokens: a quantile interpolated within a bucket is off by less than its width.
SECONDS_BUCKETS = tuple(float(f"{2 ** (i / 4):.3g}") for i in range(-40, 29))
TOKEN_BUCKETS = tuple(sorted({float(round(2 ** (i / 2))) for i in range(41)}))

_INSTRUMENTS: dict[str, tuple[str, str]] = {  # name -> (unit, description)
    INVOKE_AGENT_DURATION: ("s", "Duration of an agent turn (invoke_agent)."),
    OPERATION_DURATION: ("s", "GenAI operation duration."),
    TOKEN_USAGE: ("{token}", "Number of input and output tokens used."),
    TIME_TO_FIRST_CHUNK: ("s", "Time to receive the first chunk of a streamed response."),
    EXECUTE_TOOL_DURATION: ("s", "Duration of a tool execution."),
}


def metric_views(histograms: str = "exponential") -> list[View]:
    """Views for a ``MeterProvider`` that records agentrt's metrics: each histogram
    keeps only ``METRIC_ATTRIBUTES`` and is aggregated into exponential buckets
    (``"exponential"``: ~2 % relative error at any quantile, for OTLP and in-memory
    readers) or unit-matched explicit buckets (``"explicit"``, for Prometheus)."""
    if histograms not in ("exponential", "explicit"):
        raise ValueError(f"histograms must be 'exponential' or 'explicit', got {histograms!r}")
    views = []
    for name, (unit, _) in _INSTRUMENTS.items():
        aggregation: Aggregation
        if histograms == "exponential":
            aggregation = ExponentialBucketHistogramAggregation()
        else:
            bounds = TOKEN_BUCKETS if unit == "{token}" else SECONDS_BUCKETS
            aggregation = ExplicitBucketHistogramAggregation(boundaries=bounds)
        views.append(
            View(
                instrument_name=name,
                meter_name="agentrt",
                attribute_keys=set(METRIC_ATTRIBUTES),
                aggregation=aggregation,
            )
        )
    return views


def _version() -> str:
    try:
        return metadata.version("agentrt")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "0"


Handler = Callable[[Mapping[str, float], Mapping[str, Any], dict[str, Any]], None]


class OTelExporter:
    """Records agentrt's telemetry events as OpenTelemetry metrics and spans (module
    docs). Either provider may be None (no metrics, or no spans); the providers are the
    caller's: the exporter never shuts them down nor sets them globally."""

    def __init__(
        self,
        *,
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
        ids_on_measurements: bool = False,
    ) -> None:
        if meter_provider is None and tracer_provider is None:
            raise ValueError("OTelExporter needs a meter_provider, a tracer_provider or both")
        version = _version()
        self._tracer = tracer_provider.get_tracer("agentrt", version) if tracer_provider else None
        self._ids = ids_on_measurements and meter_provider is not None
        self._histograms: dict[str, Histogram] = {}
        if meter_provider is not None:
            meter = meter_provider.get_meter("agentrt", version)
            for name, (unit, description) in _INSTRUMENTS.items():
                self._histograms[name] = meter.create_histogram(
                    name, unit=unit, description=description
                )
        self._metrics = bool(self._histograms)
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
        if self._tracer is not None:
            self._dispatch[(*_CHAT, "start")] = self._chat_start
            self._dispatch[(*_TOOL, "start")] = self._tool_start

    @property
    def tracing(self) -> bool:
        """True when spans are recorded."""
        return self._tracer is not None

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
        if self._tracer is not None:
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

    # -- attributes ------------------------------------------------------------------------

    def _attributes(self, key: tuple[Any, ...], build: Callable[[], dict[str, Any]]) -> Any:
        """The metric attribute dict for ``key`` (cached: low-cardinality by design)."""
        attrs = self._attrs.get(key)
        if attrs is None:
            if len(self._attrs) >= _MAX_ATTRIBUTE_SETS:
                self._attrs.clear()
            attrs = self._attrs[key] = build()
        return attrs

    def _with_ids(self, attrs: dict[str, Any], agent_id: Any) -> dict[str, Any]:
        if not self._ids or agent_id is None:
            return attrs
        return {**attrs, "gen_ai.agent.id": agent_id, "gen_ai.conversation.id": agent_id}

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
        tracer = self._tracer
        if tracer is not None:
            agent_id = meta["agent_id"]
            span = tracer.start_span(
                f"invoke_agent {agent_class}",
                ctx,
                SpanKind.INTERNAL,
                {
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": agent_class,
                    "gen_ai.agent.id": agent_id,
                    "gen_ai.conversation.id": agent_id,
                    "gen_ai.request.model": meta["model"],
                    "agentrt.turn.streamed": bool(meta.get("streamed")),
                },
            )
            ctx = trace.set_span_in_context(span, ctx)
        state[_KEY] = (span, ctx, otel_context.attach(ctx))

    def _turn_stop(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        entry = state.pop(_KEY, None)
        span, ctx, token = entry if entry is not None else (None, None, None)
        error = meta.get("kind")
        try:
            if self._metrics:
                agent_class, model = meta["agent_class"], meta["model"]
                attrs = self._attributes(
                    ("turn", agent_class, model, error),
                    lambda: _drop_none(
                        {
                            "gen_ai.operation.name": "invoke_agent",
                            "gen_ai.agent.name": agent_class,
                            "gen_ai.request.model": model,
                            "error.type": error,
                        }
                    ),
                )
                self._histograms[INVOKE_AGENT_DURATION].record(
                    measurements["duration_s"], self._with_ids(attrs, meta["agent_id"]), ctx
                )
            if span is not None:
                if error is None:
                    _set_usage(span, measurements)
                    span.set_attribute("agentrt.turn.steps", int(measurements.get("steps", 0)))
                    span.set_attribute("agentrt.turn.cost", float(measurements.get("cost", 0.0)))
                else:
                    _fail(span, error, meta.get("reason"))
                span.end()
        finally:
            if token is not None:
                otel_context.detach(token)

    # -- LLM calls (chat) --------------------------------------------------------------------

    def _chat_start(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        tracer = self._tracer
        assert tracer is not None
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
        if meta.get("operation") == "stream":
            attrs["agentrt.llm.streamed"] = True
        span = tracer.start_span(f"chat {model}", None, SpanKind.CLIENT, attrs)
        ctx = trace.set_span_in_context(span)
        state[_KEY] = (span, ctx, otel_context.attach(ctx))

    def _chat_stop(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        entry = state.pop(_KEY, None)
        span, ctx, token = entry if entry is not None else (None, None, None)
        error = meta.get("kind")
        try:
            if self._metrics:
                self._chat_metrics(measurements, meta, error, ctx)
            if span is not None:
                provider = meta.get("provider")
                if provider is not None:
                    span.set_attribute("gen_ai.provider.name", provider)
                if error is None:
                    _set_usage(span, measurements)
                else:
                    _fail(span, error, meta.get("reason"))
                span.end()
        finally:
            if token is not None:
                otel_context.detach(token)

    def _chat_metrics(
        self,
        measurements: Mapping[str, float],
        meta: Mapping[str, Any],
        error: str | None,
        ctx: Context | None,
    ) -> None:
        model, provider = meta["model"], meta.get("provider")
        agent_class = otel_context.get_value(_AGENT)
        key = ("chat", model, provider, agent_class, error)
        attrs = self._attributes(key, lambda: _chat_attributes(model, provider, agent_class, error))
        hist = self._histograms
        agent_id = meta.get("agent_id")
        hist[OPERATION_DURATION].record(
            measurements["duration_s"], self._with_ids(attrs, agent_id), ctx
        )
        if error is not None:
            return
        ttft = measurements.get("ttft_s")
        if ttft is not None:
            hist[TIME_TO_FIRST_CHUNK].record(ttft, self._with_ids(attrs, agent_id), ctx)
        usage = hist[TOKEN_USAGE]
        for kind in ("input", "output"):
            count = measurements.get(f"{kind}_tokens", 0)
            if count:
                typed = self._attributes((*key, kind), partial(_typed, attrs, kind))
                usage.record(count, self._with_ids(typed, agent_id), ctx)

    # -- tools (execute_tool) ----------------------------------------------------------------

    def _tool_start(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        tracer = self._tracer
        assert tracer is not None
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
        span = tracer.start_span(f"execute_tool {tool}", None, SpanKind.INTERNAL, attrs)
        ctx = trace.set_span_in_context(span)
        state[_KEY] = (span, ctx, otel_context.attach(ctx))

    def _tool_stop(
        self, measurements: Mapping[str, float], meta: Mapping[str, Any], state: dict[str, Any]
    ) -> None:
        entry = state.pop(_KEY, None)
        span, ctx, token = entry if entry is not None else (None, None, None)
        error = meta.get("kind")
        if error is None and meta.get("ok") is False:
            error = meta.get("error") or "tool_error"
        try:
            if self._metrics:
                tool = meta["tool"]
                agent_class = otel_context.get_value(_AGENT)
                attrs = self._attributes(
                    ("tool", tool, agent_class, error),
                    lambda: _drop_none(
                        {
                            "gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": tool,
                            "gen_ai.agent.name": agent_class,
                            "error.type": error,
                        }
                    ),
                )
                self._histograms[EXECUTE_TOOL_DURATION].record(
                    measurements["duration_s"], self._with_ids(attrs, meta.get("agent_id")), ctx
                )
            if span is not None:
                if meta.get("cached") is not None:
                    span.set_attribute("agentrt.tool.cached", bool(meta["cached"]))
                if error is not None:
                    _fail(span, error, meta.get("reason"))
                span.end()
        finally:
            if token is not None:
                otel_context.detach(token)


def _typed(attrs: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**attrs, "gen_ai.token.type": kind}


def _drop_none(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}


def _chat_attributes(
    model: Any, provider: Any, agent_class: Any, error: str | None
) -> dict[str, Any]:
    return _drop_none(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.provider.name": provider,
            "gen_ai.agent.name": agent_class,
            "error.type": error,
        }
    )


def _set_usage(span: Span, measurements: Mapping[str, float]) -> None:
    span.set_attribute("gen_ai.usage.input_tokens", int(measurements.get("input_tokens", 0)))
    span.set_attribute("gen_ai.usage.output_tokens", int(measurements.get("output_tokens", 0)))


def _fail(span: Span, error: str, reason: Any) -> None:
    span.set_attribute("error.type", error)
    span.set_status(Status(StatusCode.ERROR, str(reason) if reason is not None else error))
    if isinstance(reason, BaseException):
        span.record_exception(reason)
