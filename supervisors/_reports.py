"""Supervisor reports: what OTP's SASL reports say, as structured values.

A supervisor emits one ``SupervisorReport`` per event of these four ``kind``s (OTP's
names):

- ``child_terminated``: a child exited unexpectedly (any reason for a permanent child;
  one other than ``normal``/``shutdown``/``("shutdown", x)`` for the others). Logged at
  INFO: the child's crash itself is already logged once, by the node, with its traceback.
- ``start_error``: a child failed to start (at the supervisor's start, in ``start_child``
  or ``restart_child``, or on a restart). Logged at ERROR.
- ``shutdown_error``: a child being shut down exited with another reason than the one
  asked for (it crashed in ``terminate``, or was killed after its shutdown timeout).
  Logged at ERROR.
- ``reached_max_restart_intensity``: the supervisor gives up and exits with
  ``shutdown``; ``child_id`` is the child whose exit tipped it over. Logged at ERROR.

Each report names the ``supervisor`` (its ref), the ``child_id`` and the ``reason``.
They reach three places: the ``on_report`` callable given to ``Supervisor.start`` /
``DynamicSupervisor.start`` (or their ``ChildSpec`` constructors), called synchronously
inside the supervisor (keep it short; an exception it raises is logged and ignored,
never crashing the supervisor); a log record on the ``supervisors`` logger whose
``extra`` fields are ``report_kind``, ``supervisor``, ``child_id`` and ``reason``; and,
in a ``Runtime``, the telemetry event ``("agentrt", "supervisor", kind)`` (the runtime
forwards its supervisors' reports there: this package does not import telemetry).

Example::

    def on_report(report: SupervisorReport) -> None:
        if report.kind == "reached_max_restart_intensity":
            alert(f"{report.supervisor!r} gave up after {report.child_id!r}")

    sup = await Supervisor.start(node, children, on_report=on_report)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

from agentrt.actor import ActorRef

__all__ = ["ReportHook", "ReportKind", "SupervisorReport"]

ReportKind = Literal[
    "child_terminated", "start_error", "shutdown_error", "reached_max_restart_intensity"
]

_log = logging.getLogger("supervisors")
_LEVELS = {
    "child_terminated": logging.INFO,
    "start_error": logging.ERROR,
    "shutdown_error": logging.ERROR,
    "reached_max_restart_intensity": logging.ERROR,
}
_TEXT = {
    "child_terminated": "child %r terminated: %r",
    "start_error": "child %r failed to start: %r",
    "shutdown_error": "child %r exited with %r while being shut down",
    "reached_max_restart_intensity": "reached max restart intensity after child %r (%r): "
    "shutting down",
}


@dataclass(frozen=True, slots=True)
class SupervisorReport:
    """One supervisor report (see the module docs)."""

    kind: ReportKind
    supervisor: ActorRef
    child_id: Hashable
    reason: Any


#: ``on_report(report)``: called synchronously by the supervisor for every report.
ReportHook = Callable[[SupervisorReport], None]


def emit(report: SupervisorReport, hook: ReportHook | None) -> None:
    """Log ``report`` with its fields and hand it to ``hook`` (whose errors are logged)."""
    kind = report.kind
    _log.log(
        _LEVELS[kind],
        "supervisor %r: " + _TEXT[kind],
        report.supervisor,
        report.child_id,
        report.reason,
        extra={
            "report_kind": kind,
            "supervisor": report.supervisor,
            "child_id": report.child_id,
            "reason": report.reason,
        },
    )
    if hook is None:
        return
    try:
        hook(report)
    except Exception as exc:
        _log.error("on_report hook of %r failed: %r", report.supervisor, exc, exc_info=exc)
