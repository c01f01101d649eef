"""Logs that say which agent, turn and trace they are about.

While an agent runs a turn, ``turn_context`` holds its agent id, a turn id (unique in
the process) and its model, in a context variable: every log record emitted in that
turn's task (agentrt's, a tool's, yours) can carry them. ``LogContextFilter`` adds them
to records as attributes (``agent_id``, ``turn_id``, ``model``; None outside a turn),
with the current OpenTelemetry trace and span ids (``otelTraceID``, ``otelSpanID``,
``otelTraceSampled``: the names OpenTelemetry's logging instrumentation uses; zeros
outside a span). ``JsonFormatter`` writes one JSON object per record (opt-in).
``configure_logging`` installs both on a handler in one call.

Nothing is installed by default: logging belongs to the application. A filter on a
handler sees every record that reaches the handler (a filter on a logger would miss
its children's records).

Example::

    configure_logging(json=True)        # stderr, JSON, agent and trace ids
    # or, with your own handler:
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import sys
import time
from typing import IO, Any

__all__ = [
    "JsonFormatter",
    "LogContextFilter",
    "configure_logging",
    "next_turn_id",
    "turn_context",
]

#: (agent id, turn id, model) of the turn the current task runs, or None
turn_context: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar(
    "agentrt_turn", default=None
)

_turns = itertools.count(1)


def next_turn_id() -> str:
    """A new turn id, unique in this process (hex)."""
    return f"{next(_turns):x}"


_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


class LogContextFilter(logging.Filter):
    """Adds ``agent_id``, ``turn_id``, ``model`` (the turn being run, else None) and
    ``otelTraceID``, ``otelSpanID``, ``otelTraceSampled`` (the current span, else zeros
    and False) to every record; never drops one. Attributes a record already has (set
    through ``extra=``) are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        turn = turn_context.get()
        values = record.__dict__
        if turn is None:
            values.setdefault("agent_id", None)
            values.setdefault("turn_id", None)
            values.setdefault("model", None)
        else:
            values.setdefault("agent_id", turn[0])
            values.setdefault("turn_id", turn[1])
            values.setdefault("model", turn[2])
        trace_id, span_id, sampled = _ZERO_TRACE, _ZERO_SPAN, False
        trace = sys.modules.get("opentelemetry.trace")
        if trace is not None:  # the API is loaded: a span may be current
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                trace_id = f"{context.trace_id:032x}"
                span_id = f"{context.span_id:016x}"
                sampled = context.trace_flags.sampled
        values.setdefault("otelTraceID", trace_id)
        values.setdefault("otelSpanID", span_id)
        values.setdefault("otelTraceSampled", sampled)
        return True


# The attributes every LogRecord has: not "extra".
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (ISO 8601, UTC, ms), ``level``, ``logger``,
    ``message``, ``exception`` (the formatted traceback, when there is one), then every
    ``extra`` attribute (``LogContextFilter``'s included; a value JSON cannot encode is
    written as its ``repr``). Keys with a None value are left out."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in out and value is not None:
                out[key] = value
        return json.dumps(out, default=repr, ensure_ascii=False)


def _iso(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def configure_logging(
    *,
    level: int | str = logging.INFO,
    json: bool = False,
    stream: IO[str] | None = None,
    logger: str = "",
) -> logging.Handler:
    """Add a stream handler (``stream``, default stderr) to logger ``logger`` (default
    the root) with ``LogContextFilter`` and, when ``json``, ``JsonFormatter`` (else a
    text format that shows the agent and trace ids); set the logger's level. Returns
    the handler (remove it with ``logging.getLogger(logger).removeHandler``)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(LogContextFilter())
    if json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s [agent=%(agent_id)s turn=%(turn_id)s "
                "trace=%(otelTraceID)s span=%(otelSpanID)s] %(message)s"
            )
        )
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(level)
    return handler
