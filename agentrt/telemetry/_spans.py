"""How ``OTelExporter`` opens and ends spans: through an SDK tracer, or as plain data.

- ``SdkSpans`` uses a ``TracerProvider`` you give the runtime (its sampler, limits and
  processors apply): ~15-20 µs a span in the SDK.
- ``SpanRecorder`` is agentrt's own pipeline (used when the runtime builds the span
  exporter): a span is ids, a start time and a dict of attributes while it is open;
  ended, it waits in a bounded queue, and becomes an SDK ``ReadableSpan`` only when a
  batch is exported (by ``OTelSession``, in a thread) to any SDK ``SpanExporter``.
  A sampler with the standard configuration (``OTEL_TRACES_SAMPLER`` names:
  ``parentbased_always_on``, the default, ``parentbased_traceidratio``, ``traceidratio``,
  ``always_on``, ``always_off``, ``parentbased_always_off``; the ratio as
  ``OTEL_TRACES_SAMPLER_ARG``) decides at start: a parent-based sampler follows the
  parent span's sampled flag (the caller's, carried by the turn) and applies the root
  sampler to a new trace; ``traceidratio`` samples by the trace id exactly as the SDK's
  ``TraceIdRatioBased`` does (the same traces across processes). An unsampled span
  still gets ids and puts its (unsampled) context current, so its children and
  downstream services see the decision, but it is never queued. The context it puts
  current holds a ``NonRecordingSpan`` with its ``SpanContext``, so spans started
  under it by any tracer (a tool's own instrumentation) are its children. A fifth of
  the SDK's cost.

Both return ``(handle, context)`` from ``start`` and take the handle back in ``end``;
handles have ``get_span_context()`` (exemplars link to it).

Example::

    spans = SpanRecorder(exporter, resource, scope)
    handle, ctx = spans.start("chat gpt-4o", SpanKind.CLIENT, {"gen_ai.request.model": "gpt-4o"})
    spans.end(handle, {"gen_ai.usage.input_tokens": 12}, None, None)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Tracer

__all__ = ["SdkSpans", "SpanRecorder"]

_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_NOT = TraceFlags(TraceFlags.DEFAULT)
_TRACE_ID_LIMIT = TraceIdRatioBased.TRACE_ID_LIMIT
_getrandbits = random.getrandbits
_time_ns = time.time_ns
_get_current_span = trace.get_current_span
_set_span_in_context = trace.set_span_in_context


class SdkSpans:
    """Spans through an SDK ``Tracer``."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def start(
        self, name: str, kind: SpanKind, attributes: dict[str, Any], parent: Context | None = None
    ) -> tuple[Any, Context]:
        span = self._tracer.start_span(name, parent, kind, attributes)
        return span, _set_span_in_context(span, parent)

    def end(
        self, span: Any, attributes: dict[str, Any] | None, error: str | None, reason: Any
    ) -> None:
        if attributes:
            span.set_attributes(attributes)
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR, _describe(reason, error)))
            if isinstance(reason, BaseException):
                span.record_exception(reason)
        span.end()


class _OpenSpan:
    __slots__ = ("attributes", "context", "kind", "name", "parent", "start")

    def __init__(
        self,
        name: str,
        kind: SpanKind,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
    ) -> None:
        self.name = name
        self.kind = kind
        self.context = context
        self.parent = parent
        self.attributes = attributes
        self.start = _time_ns()

    def get_span_context(self) -> SpanContext:
        return self.context


class SpanRecorder:
    """Spans as plain data, exported in batches to an SDK ``SpanExporter`` (module docs).

    ``end`` appends a tuple to a bounded queue (``max_queue``; when it is full the oldest
    span is dropped and counted); ``take`` empties the queue and ``export`` turns what it
    took into ``ReadableSpan``s for the exporter (``OTelSession`` runs it in a thread
    every ``span_flush_s``, and as soon as ``batch_size`` spans wait: ``ready`` is set).
    """

    def __init__(
        self,
        exporter: SpanExporter,
        resource: Resource,
        scope: InstrumentationScope,
        *,
        max_queue: int = 8192,
        batch_size: int = 512,
        sampler: str = "parentbased_always_on",
        ratio: float = 1.0,
    ) -> None:
        """``sampler`` and ``ratio``: see the module docs (``ValueError`` for an unknown
        sampler or a ratio outside 0..1)."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"sampler ratio must be within 0..1, got {ratio!r}")
        root = sampler.removeprefix("parentbased_")
        if root not in ("always_on", "always_off", "traceidratio"):
            raise ValueError(f"unknown sampler {sampler!r}")
        self.sampler = sampler
        self._parent_based = sampler.startswith("parentbased_")
        # sampled when the trace id's low 64 bits are below the bound (the SDK's rule)
        if root == "always_on":
            self._bound = _TRACE_ID_LIMIT + 1
        elif root == "always_off":
            self._bound = 0
        else:
            self._bound = TraceIdRatioBased.get_bound_for_rate(ratio)
        self.unsampled = 0
        self.exporter = exporter
        self.resource = resource
        self.scope = scope
        self.batch_size = batch_size
        self._queue: deque[tuple[Any, ...]] = deque(maxlen=max_queue)
        self.ready = asyncio.Event()
        self.ended = 0
        self.dropped = 0
        self.exported = 0
        self.export_failures = 0

    def start(
        self, name: str, kind: SpanKind, attributes: dict[str, Any], parent: Context | None = None
    ) -> tuple[Any, Context]:
        parent_context = _get_current_span(parent).get_span_context()
        if parent_context.is_valid:
            trace_id = parent_context.trace_id
            parent_sc: SpanContext | None = parent_context
        else:
            trace_id = _getrandbits(128) or 1
            parent_sc = None
        if self._parent_based and parent_sc is not None:
            sampled = parent_sc.trace_flags.sampled
        else:
            sampled = trace_id & _TRACE_ID_LIMIT < self._bound
        context = SpanContext(trace_id, _getrandbits(64) or 1, False, _SAMPLED if sampled else _NOT)
        span = _OpenSpan(name, kind, context, parent_sc, attributes)
        return span, _set_span_in_context(NonRecordingSpan(context), parent)

    def end(
        self, span: Any, attributes: dict[str, Any] | None, error: str | None, reason: Any
    ) -> None:
        if not span.context.trace_flags.sampled:
            self.unsampled += 1
            return
        attrs = span.attributes
        if attributes:
            attrs.update(attributes)
        if error is not None:
            attrs["error.type"] = error
        queue = self._queue
        if len(queue) == queue.maxlen:
            self.dropped += 1
        queue.append((span, _time_ns(), error, reason))
        self.ended += 1
        if len(queue) >= self.batch_size:
            self.ready.set()

    def pending(self) -> int:
        return len(self._queue)

    def take(self) -> list[tuple[Any, ...]]:
        """The ended spans not exported yet (the queue empties)."""
        queue, self._queue = self._queue, deque(maxlen=self._queue.maxlen)
        self.ready.clear()
        return list(queue)

    def _readable(self, span: _OpenSpan, end: int, error: str | None, reason: Any) -> ReadableSpan:
        status = _UNSET
        events: tuple[Event, ...] = ()
        if error is not None:
            status = Status(StatusCode.ERROR, _describe(reason, error))
            if isinstance(reason, BaseException):
                events = (_exception_event(reason, end),)
        return ReadableSpan(
            span.name,
            span.context,
            span.parent,
            self.resource,
            span.attributes,
            events,
            (),
            span.kind,
            None,
            status,
            span.start,
            end,
            self.scope,
        )

    def export(self, taken: list[tuple[Any, ...]]) -> bool:
        """Export spans ``take`` returned (blocking: call it in a thread); False when the
        exporter failed."""
        if not taken:
            return True
        spans = [self._readable(*item) for item in taken]
        try:
            ok = self.exporter.export(spans).name == "SUCCESS"
        except Exception:
            ok = False
        if ok:
            self.exported += len(spans)
        else:
            self.export_failures += 1
        return ok

    def stats(self) -> dict[str, int]:
        return {
            "ended": self.ended,
            "pending": len(self._queue),
            "exported": self.exported,
            "dropped": self.dropped,
            "export_failures": self.export_failures,
            "unsampled": self.unsampled,
        }


_UNSET = Status(StatusCode.UNSET)


def _describe(reason: Any, error: str) -> str:
    return str(reason) if reason is not None else error


def _exception_event(exc: BaseException, at: int) -> Event:
    return Event(
        "exception",
        {
            "exception.type": type(exc).__qualname__,
            "exception.message": str(exc),
        },
        at,
    )
