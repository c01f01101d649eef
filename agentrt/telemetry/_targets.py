"""Targets: the figures users hold a swarm to, checked continuously.

Defaults are the users' targets: response p95 under 2 s, tool calls p90 under 5 s,
memory operations p99 under 100 ms, under 100 MB per agent (the process's memory growth
since the runtime started, over its live agents), event loop lag under 250 ms (its
moving average: a single blocked tick does not count, a loop that stays slow does);
``error_rate`` (failed turns / turns) is off unless set. Figures come from the recent
window (``Telemetry.window_s``, default 60 s), so a target recovers when things get
better. Each target is also an alert (``agentrt.telemetry._alerts``).

Example::

    Targets(response_p95_s=1.0, error_rate=0.001)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from agentrt.bounds import Bounds
from agentrt.errors import ConfigError

__all__ = ["TargetStatus", "Targets", "evaluate"]

_UNITS = {
    "response_p95_s": "s",
    "tool_p90_s": "s",
    "memory_op_p99_ms": "ms",
    "bytes_per_agent": "B",
    "error_rate": "",
    "loop_lag_ms": "ms",
}


_LIMIT = Bounds(low=0, high=1e18)


@dataclass(frozen=True, kw_only=True)
class Targets:
    """Upper limits (None disables one)."""

    response_p95_s: float | None = 2.0
    tool_p90_s: float | None = 5.0
    memory_op_p99_ms: float | None = 100.0
    bytes_per_agent: float | None = 100 * 2**20
    error_rate: float | None = None
    loop_lag_ms: float | None = 250.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                try:  # NaN and infinities too: a NaN target is never met nor missed
                    _LIMIT.check(value, f.name)
                except ConfigError as exc:
                    raise ConfigError(f"targets.{f.name}", f"{exc.problem} (or None)") from None

    def limits(self) -> dict[str, float]:
        """The enabled targets and their limits."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """One target now: its ``value`` (None: not measured yet), ``limit`` and ``ok``."""

    name: str
    limit: float
    value: float | None
    ok: bool
    unit: str

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "limit": self.limit,
            "value": self.value,
            "ok": self.ok,
            "unit": self.unit,
        }


def evaluate(targets: Targets, figures: Mapping[str, float | None]) -> list[TargetStatus]:
    """Compare ``figures`` (same keys as ``Targets``) with the limits. A figure not
    measured yet (None) counts as met."""
    out = []
    for name, limit in targets.limits().items():
        value = figures.get(name)
        ok = value is None or value <= limit
        out.append(TargetStatus(name, limit, value, ok, _UNITS[name]))
    return out
