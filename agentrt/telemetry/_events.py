"""Telemetry events in the spirit of Elixir's ``:telemetry``.

Code emits named events (tuples of strings) with *measurements* (numbers) and *metadata*
(anything); handlers attached to an event name receive them synchronously. A span emits
``name + ("start",)``, then ``("stop",)`` with its ``duration_s``, or ``("exception",)``
with its ``duration_s`` and the error's ``kind`` — and gives handlers a ``state`` dict that
lives from start to stop (e.g. the OpenTelemetry span they opened).

Nothing happens, and nothing is allocated, for an event nobody listens to: emitters ask
``listening(name)`` first (one dict lookup). A handler that raises is detached, logged
once, and reported as ``("agentrt", "telemetry", "handler_failed")``: it never breaks the
code that emitted.

The events agentrt emits (measurements | metadata):

- ``("agentrt", "agent", "turn", start|stop|exception)``: stop: duration_s, llm_s, tool_s,
  input_tokens, output_tokens, cost, steps, tool_calls | agent_id, agent_class, model,
  streamed, parent (the caller's trace context carried by the turn, or None).
- ``("agentrt", "llm", "chat", start|stop|exception)``: stop: duration_s, input_tokens,
  output_tokens, ttft_s (streams that produced a chunk) | model, agent_id, operation
  ("chat" or "stream"), temperature, max_tokens, provider (the system: "openai",
  "anthropic", "mock"), provider_config (the pool's config name), server_address,
  server_port (set at start for the first provider in the chain, updated at stop to the
  one that answered), response_model, response_id, finish_reason (stop).
- ``("agentrt", "tool", "call", start|stop|exception)``: stop: duration_s | tool,
  agent_id, call_id, ok, cached, error.
- ``("agentrt", "memory", "quarantine")``: records | agent_id, conversation,
  quarantine_key, reason (a damaged stored conversation was moved aside; the agent
  started fresh).
- ``("agentrt", "cluster", "stats_damaged")``: (none) | node, reason (a node's published
  statistics could not be read: skipped from ``Telemetry.cluster()``).
- ``("agentrt", "target", "breach")`` / ``("agentrt", "target", "recovered")``:
  value, limit | target (the raw transitions, checked every tick).
- ``("agentrt", "alert", "fired")`` / ``("agentrt", "alert", "cleared")``: value, limit,
  duration_s | alert (an ``Alert``), name (the target): a breach that lasted the
  alert's ``for_s`` / a recovery that lasted its ``clear_s`` (``agentrt.telemetry._alerts``).

Example::

    events.attach("log-slow-turns", ("agentrt", "agent", "turn", "stop"), on_turn)

    def on_turn(name, measurements, metadata, state):
        if measurements["duration_s"] > 2:
            log.warning("slow turn of %s", metadata["agent_id"])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any

from agentrt.errors import InvalidArgument

__all__ = ["Event", "Events", "Handler", "Span"]

_log = logging.getLogger("agentrt.telemetry")

Event = tuple[str, ...]
#: ``handler(name, measurements, metadata, state)``; ``state`` is the span's dict (an
#: empty dict for plain events).
Handler = Callable[[Event, Mapping[str, float], Mapping[str, Any], dict[str, Any]], None]

HANDLER_FAILED: Event = ("agentrt", "telemetry", "handler_failed")
_EMPTY: Mapping[str, float] = MappingProxyType({})
_perf_counter = time.perf_counter


class Span:
    """A started span; ``stop(**measurements)`` or ``fail(exc)`` ends it once."""

    __slots__ = ("_events", "_names", "_start", "metadata", "state")

    def __init__(self, events: Events, name: Event, metadata: dict[str, Any]) -> None:
        self._events = events
        self._names = names = events.phases(name)
        self.metadata = metadata
        self.state: dict[str, Any] = {}
        self._start = _perf_counter()
        events.emit(names[0], _EMPTY, metadata, self.state)

    def stop(self, **measurements: float) -> float:
        """End the span successfully; returns its duration in seconds."""
        duration = _perf_counter() - self._start
        measurements["duration_s"] = duration
        self._events.emit(self._names[1], measurements, self.metadata, self.state)
        return duration

    def fail(self, exc: BaseException) -> float:
        """End the span with an error; returns its duration in seconds."""
        duration = _perf_counter() - self._start
        meta = {**self.metadata, "kind": type(exc).__name__, "reason": exc}
        self._events.emit(self._names[2], {"duration_s": duration}, meta, self.state)
        return duration

    def __enter__(self) -> Span:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.stop()
        else:
            self.fail(exc)


class Events:
    """Handlers by event name, for one runtime (no process-global registry)."""

    def __init__(self) -> None:
        self._handlers: dict[Event, tuple[tuple[str, Handler], ...]] = {}
        self._listened: frozenset[Event] = frozenset()  # names and their parents
        self._phases: dict[Event, tuple[Event, Event, Event]] = {}
        self.failures = 0

    def phases(self, name: Event) -> tuple[Event, Event, Event]:
        """``name`` + ``("start",)``, ``("stop",)``, ``("exception",)`` (cached)."""
        phases = self._phases.get(name)
        if phases is None:
            if len(self._phases) >= 1024:  # span names are few; never grow without bound
                self._phases.clear()
            phases = self._phases[name] = (
                (*name, "start"),
                (*name, "stop"),
                (*name, "exception"),
            )
        return phases

    def _index(self) -> None:
        names = self._handlers
        self._listened = frozenset(names) | frozenset(n[:-1] for n in names if n)

    def attach(self, handler_id: str, names: Event | list[Event], handler: Handler) -> None:
        """Call ``handler`` for each event in ``names``. ``ValueError`` if ``handler_id``
        is already attached."""
        for entries in self._handlers.values():
            if any(hid == handler_id for hid, _ in entries):
                raise InvalidArgument(
                    "handler_id", f"telemetry handler {handler_id!r} is already attached"
                )
        for name in [names] if isinstance(names, tuple) else names:
            key = tuple(name)
            self._handlers[key] = (*self._handlers.get(key, ()), (handler_id, handler))
        self._index()

    def detach(self, handler_id: str) -> bool:
        """Remove ``handler_id`` from every event; False when it was not attached."""
        found = False
        for name in list(self._handlers):
            kept = tuple((hid, h) for hid, h in self._handlers[name] if hid != handler_id)
            found = found or len(kept) != len(self._handlers[name])
            if kept:
                self._handlers[name] = kept
            else:
                del self._handlers[name]
        self._index()
        return found

    def handlers(self) -> dict[Event, list[str]]:
        """Attached handler ids by event name."""
        return {name: [hid for hid, _ in entries] for name, entries in self._handlers.items()}

    def listening(self, prefix: Event) -> bool:
        """True when a handler is attached to ``prefix`` or ``prefix + (anything,)``: the
        emitter's cheap check before building measurements and metadata (one set
        lookup)."""
        return prefix in self._listened

    def span(self, name: Event, metadata: dict[str, Any]) -> Span:
        """Start a span (emits ``name + ("start",)``)."""
        return Span(self, name, metadata)

    def emit(
        self,
        name: Event,
        measurements: Mapping[str, float],
        metadata: Mapping[str, Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        """Call the handlers of ``name``; a handler that raises is detached and reported."""
        entries = self._handlers.get(name)
        if not entries:
            return
        st = {} if state is None else state
        for handler_id, handler in entries:  # a tuple: detaching meanwhile is safe
            try:
                handler(name, measurements, metadata, st)
            except Exception as exc:
                self._failed(handler_id, name, exc)

    def _failed(self, handler_id: str, name: Event, exc: Exception) -> None:
        self.failures += 1
        self.detach(handler_id)
        _log.error(
            "telemetry handler %r failed on %s and was detached: %r",
            handler_id,
            ".".join(name),
            exc,
            exc_info=exc,
        )
        if name != HANDLER_FAILED:
            self.emit(HANDLER_FAILED, {}, {"handler_id": handler_id, "event": name, "error": exc})
