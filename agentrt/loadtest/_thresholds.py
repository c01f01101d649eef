"""k6-style thresholds: ``"response_p95 < 2s"``, ``"error_rate < 0.1%"``, ``"lost == 0"``.

A threshold is ``<metric> <op> <value>``: ``metric`` one of :data:`METRICS` (the figures
of a load report), ``op`` one of ``<  <=  >  >=  ==  !=``, and ``value`` in the metric's
unit, with a unit suffix where it has one (``2s``, ``250ms``, ``100MB``, ``0.1%``).
Parsing errors raise :class:`~agentrt.errors.ConfigError` naming the threshold's key.

A threshold with ``abort_on_fail`` stops the run as soon as it fails (checked at every
sample once ``delay_abort_eval`` has passed), like k6's ``abortOnFail``. A figure that was
not measured (None) fails its threshold: a run that never measured a latency cannot
claim to meet a latency target.

The turn counts also exist per model (:data:`PER_MODEL`), named with the model in
brackets: ``"turns_failed[model-c] == 0"``; a model no agent talked to has no figure.

Every run also checks :data:`BUILTIN_THRESHOLDS` (``supervisor_shutdowns == 0``): a
supervisor that gave up, or a runtime service that went down, fails the run.

Example::

    t = Threshold.parse("response_p95 < 2s", key="thresholds[0]")
    t.check(1.2)    # True
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentrt.errors import ConfigError
from agentrt.loadtest._quantity import parse_quantity

__all__ = [
    "BUILTIN_THRESHOLDS",
    "METRICS",
    "PER_MODEL",
    "Metric",
    "Threshold",
    "ThresholdResult",
    "evaluate",
    "run_thresholds",
]


@dataclass(frozen=True, slots=True)
class Metric:
    """A figure of a load report: its ``unit`` (``s``, ``B``, ``ratio``, ``count``, ``1/s``)
    and what it means."""

    unit: str
    doc: str


METRICS: dict[str, Metric] = {
    "agents": Metric("count", "agents spawned"),
    "turns_sent": Metric("count", "user turns sent"),
    "turns_answered": Metric("count", "turns answered"),
    "turns_failed": Metric("count", "turns that failed with an error"),
    "turns_failed_unexcused": Metric(
        "count",
        "turns failed, except those failing with RateLimited whose retry_after exceeded "
        "the time the turn had left (failing at once was right)",
    ),
    "lost": Metric("count", "turns sent with no answer and no error"),
    "error_rate": Metric("ratio", "failed turns / turns sent"),
    "turns_per_s": Metric("1/s", "turns ended per second of the run"),
    "response_p50": Metric("s", "response time (client side), median"),
    "response_p90": Metric("s", "response time, 90th percentile"),
    "response_p95": Metric("s", "response time, 95th percentile"),
    "response_p99": Metric("s", "response time, 99th percentile"),
    "response_max": Metric("s", "slowest response"),
    "overhead_p95": Metric("s", "runtime overhead (turn time minus LLM and tool time), p95"),
    "memory_op_p50": Metric("s", "conversation memory operations, median"),
    "memory_op_p99": Metric("s", "conversation memory operations, 99th percentile"),
    "bytes_per_agent": Metric("B", "RSS growth since before the first spawn / peak agents"),
    "memory_growth_per_agent": Metric(
        "B", "RSS growth from early to late in the steady part of the run / agents"
    ),
    "rss_peak": Metric("B", "largest resident set size sampled"),
    "cache_hit_ratio": Metric("ratio", "tool result cache hits / lookups"),
    "llm_cache_hit_ratio": Metric("ratio", "LLM response cache hits / lookups"),
    "llm_cache_tokens_saved": Metric("count", "tokens the LLM response cache's hits saved"),
    "llm_cache_cost_saved": Metric("$", "cost the LLM response cache's hits saved"),
    "restarts": Metric("count", "agent restarts by their supervisor"),
    "supervisor_shutdowns": Metric(
        "count",
        "supervisors that reached their restart intensity, plus runtime services or the "
        "agents' tree that went down (built-in threshold: == 0)",
    ),
    "crashes_injected": Metric("count", "agents killed by the crash fault"),
    "llm_requests": Metric("count", "LLM requests the pool sent"),
    "llm_errors": Metric("count", "LLM request attempts that failed (the pool retries them)"),
    "loop_lag_max": Metric("s", "worst event-loop lag sampled"),
    "alerts_fired": Metric("count", "alerts that fired during the run (targets breached)"),
    "alerts_cleared": Metric("count", "alerts that cleared during the run"),
    "alerts_active": Metric("count", "alerts still firing when the run ended"),
    "duplicated": Metric(
        "count", "[cluster] runs: message ids stored twice in their conversation (run twice)"
    ),
    "restarted_turns": Metric(
        "count",
        "[cluster] runs: user messages stored twice (a turn started again storing its"
        " user message again: 0 expected)",
    ),
    "response_p95_outside_faults": Metric(
        "s", "[cluster] runs: response p95 of the turns that overlap no fault window"
    ),
    "turns_outside_faults": Metric("count", "[cluster] runs: answered turns outside faults"),
    "node_kills": Metric("count", "[cluster] runs: nodes killed (SIGKILL) and replaced"),
    "node_pauses": Metric("count", "[cluster] runs: nodes paused (SIGSTOP) and resumed"),
    "redis_restarts": Metric("count", "[cluster] runs: restarts of the run's redis-server"),
    "drains": Metric("count", "[cluster] runs: nodes drained (SIGTERM) until they exited"),
    "joins": Metric("count", "[cluster] runs: join faults carried out (nodes added)"),
    "rolling_restarts": Metric("count", "[cluster] runs: rolling restarts of every node"),
    "rebalance_balance": Metric(
        "ratio",
        "[cluster] runs: at the end of the load, the most agents a live node holds over the mean",
    ),
    "rebalance_rounds": Metric(
        "count", "[cluster] runs: the most rebalance rounds (that moved agents) a live node ran"
    ),
    "cpu_cores": Metric(
        "ratio",
        "[cluster] runs: cores used over the load window by the run's processes (nodes, "
        "load generator, redis-server)",
    ),
    "node_cpu_cores": Metric("ratio", "[cluster] runs: cores used by the nodes over the load"),
    "loadgen_cpu_cores": Metric(
        "ratio", "[cluster] runs: cores used by the load generator over the load"
    ),
    "cpu_per_turn": Metric(
        "s", "CPU time of the runtime's process per turn ended (the mock LLM runs apart)"
    ),
}

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPR = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)(?:\[([^\]\s]+)\])?\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*$"
)

#: The metrics also measured per model, as ``name[model]``.
PER_MODEL = ("turns_sent", "turns_answered", "turns_failed", "turns_failed_unexcused")


@dataclass(frozen=True, kw_only=True)
class Threshold:
    """One pass/fail rule on a figure (see the module docs)."""

    expr: str
    metric: str
    op: str
    limit: float
    abort_on_fail: bool = False
    delay_abort_eval: float = 0.0
    builtin: bool = False

    @classmethod
    def parse(
        cls,
        expr: str,
        *,
        key: str = "threshold",
        abort_on_fail: bool = False,
        delay_abort_eval: float = 0.0,
    ) -> Threshold:
        """Parse ``expr``; ``ConfigError`` names ``key`` and the part that is wrong."""
        match = _EXPR.match(expr)
        if match is None:
            raise ConfigError(
                key, f"cannot read {expr!r}: expected '<metric> <op> <value>', e.g. 'lost == 0'"
            )
        name, model, op, raw = match.groups()
        metric = METRICS.get(name)
        if metric is None:
            raise ConfigError(key, f"unknown metric {name!r} in {expr!r}; known: {sorted(METRICS)}")
        if model is not None and name not in PER_MODEL:
            raise ConfigError(key, f"{name!r} is not measured per model; these are: {PER_MODEL}")
        limit = parse_quantity(raw, metric.unit, key=key)
        return cls(
            expr=expr.strip(),
            metric=name if model is None else f"{name}[{model}]",
            op=op,
            limit=limit,
            abort_on_fail=abort_on_fail,
            delay_abort_eval=delay_abort_eval,
        )

    def check(self, value: float | None) -> bool:
        """True when ``value`` meets the rule (None, not measured, never does)."""
        return value is not None and _OPS[self.op](value, self.limit)


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """A threshold and the figure it was checked against."""

    threshold: Threshold
    value: float | None
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        t = self.threshold
        return {
            "expr": t.expr,
            "metric": t.metric,
            "op": t.op,
            "limit": t.limit,
            "value": self.value,
            "ok": self.ok,
            "abort_on_fail": t.abort_on_fail,
            "builtin": t.builtin,
        }


#: Checked in every load run, whatever the scenario says: a run whose agent tree or a
#: runtime service went down fails, however good its other figures.
BUILTIN_THRESHOLDS: tuple[Threshold, ...] = (
    Threshold(expr="supervisor_shutdowns == 0", metric="supervisor_shutdowns", op="==", limit=0.0,
              builtin=True),
)  # fmt: skip


def run_thresholds(scenario: tuple[Threshold, ...]) -> tuple[Threshold, ...]:
    """The scenario's thresholds followed by the built-in ones it does not already state."""
    stated = {t.expr for t in scenario}
    return scenario + tuple(t for t in BUILTIN_THRESHOLDS if t.expr not in stated)


def evaluate(
    thresholds: tuple[Threshold, ...], figures: Mapping[str, float | None]
) -> list[ThresholdResult]:
    """Check every threshold against ``figures`` (metric name -> value)."""
    out = []
    for t in thresholds:
        value = figures.get(t.metric)
        out.append(ThresholdResult(t, value, t.check(value)))
    return out
