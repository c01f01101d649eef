"""Capacity search: find the knee of one node, fit its per-unit costs, plan a fleet.

**The search** (:func:`search`): a stepped search over one load axis, ``"agents"`` (live
agents, each with the scenario's think time, so turns/s rises with them) or
``"turns"`` (offered turns/s: the scenario's agents with a think time of
``agents / rate``); :func:`search_both` runs a turns/s search at each of several
live-agents levels (the ``"both"`` axis: its :func:`frontier` is the knee per level). It
ramps (``start``, ``start * factor``, ...) until the first step
whose thresholds fail, then bisects between the last step that passed and the first
that failed until the bracket is within ``precision`` (relative) or ``max_steps`` ran.
Each step is one run measured until stable (see :mod:`agentrt.loadtest._steady`), made
by a ``measure(load) -> Step`` callable, so the logic runs on synthetic data in tests.

**The model** (:func:`fit_model`) from the steps that passed (all steps when fewer than
two passed): least-squares lines of CPU cores against turns/s (slope: CPU seconds per
turn), of RSS above the base against live agents (slope: bytes per live agent), of
turns/s against agents (the closed loop's rate per agent), of the RSS above the base
after every agent was passivated against agents (slope: bytes per passivated agent,
from the steps' passivation probes), RSS against live agents and stored turns
(``rss_vs_agents_and_turns``), the CPU per turn near the knee (the upper half of the
passing steps), the passing steps as a ``curve`` (what
:mod:`agentrt.loadtest._capacity_predict` predicts from), LLM calls per turn, and the
knee: the last step
that passed and the first that failed (the bracket is the knee's uncertainty). The
limiting resource is the one nearest its limit at the first failing step: ``loop CPU``
(cores used by the one event loop, 1.0 is all of it; loop lag over 100 ms counts as
full, and is reported as ``loop CPU (starved by other processes)`` when the process
itself used under half a core: the machine's other processes had the CPU),
``LLM concurrency`` (calls queued for a slot of the provider's ``max_concurrency``, or
its in-flight share by Little's law), ``memory`` (RSS against
``memory_budget``), ``Redis`` (memory-operation p99 against 100 ms, when the store or
cache is on Redis). When even the fullest is under half its limit the answer is
``none near its limit (...)``: the step failed for a reason outside the node (on a
shared machine, usually the other processes' CPU load).

**The plan** (:func:`plan`): nodes needed for ``agents`` agents at ``turns_per_s`` with
an LLM whose p50 latency is ``llm_p50``, from a saved model: the larger of the nodes
the turn rate needs (at the knee's rate per node; the LLM concurrency per node by
Little's law, ``rate * calls_per_turn * latency``, must fit the provider's limit) and
the nodes the memory needs; each figure with a low and a high bound (the knee step's
turns/s confidence interval, up to the first failing step's turns/s; the memory fit's
95 % interval; the calls-per-turn interval).

Everything here is pure computation over dicts and numbers; running steps is the CLI's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agentrt.errors import ConfigError
from agentrt.loadtest._capacity_plan import plan
from agentrt.loadtest._capacity_predict import check_prediction, predict, predict_costs
from agentrt.loadtest._stats import LinearFit, fit_line, fit_plane, mean_ci

__all__ = [
    "CAPACITY_SCHEMA",
    "Axis",
    "Step",
    "check_prediction",
    "fit_model",
    "limiting_resource",
    "load_capacity",
    "plan",
    "predict",
    "predict_costs",
    "search",
    "search_both",
    "step_from_report",
]

CAPACITY_SCHEMA = "agentrt.capacity/1"
Axis = Literal["agents", "turns", "both"]

_REDIS_OP_LIMIT_S = 0.1
_LOOP_LAG_FULL_S = 0.1
_NEAR_LIMIT = 0.5


@dataclass(frozen=True, kw_only=True)
class Step:
    """One measured load step: the ``load`` asked for (agents or offered turns/s),
    whether its thresholds passed (``failed`` lists the ones that did not), whether
    its figures were stable, and its figures: ``agents``, ``turns_per_s``,
    ``response_p95``, ``cpu_cores``, ``rss_above_base``, ``rss_peak``,
    ``bytes_per_passivated``, ``rss_passivated_above_base``, ``llm_calls_per_turn``,
    ``llm_waiting``, ``loop_lag_max``,
    ``memory_op_p99`` (each None when not measured), and ``elapsed_s``. ``level``: on
    the ``"both"`` axis, the live agents of the turns/s search this step belongs to
    (None on the other axes)."""

    load: float
    passed: bool
    level: float | None = None
    stable: bool = True
    failed: tuple[str, ...] = ()
    figures: Mapping[str, float | None] = field(default_factory=dict)

    def get(self, name: str) -> float | None:
        value = self.figures.get(name)
        return None if value is None else float(value)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def step_from_report(load: float, report: Mapping[str, Any]) -> Step:
    """A :class:`Step` from an ``agentrt loadtest run`` report with ``steady`` (and
    optionally ``passivation``) blocks."""
    figures = report.get("figures") or {}
    steady = report.get("steady") or {}
    probe = report.get("passivation") or {}
    answered = _num(figures.get("turns_answered")) or 0.0
    calls = _num(figures.get("llm_requests"))
    rate = _num((steady.get("turns_per_s") or {}).get("mean"))
    peak, base = _num(figures.get("rss_peak")), _num(probe.get("base_rss"))
    agents = _num(steady.get("agents")) or _num(figures.get("agents"))
    above = None
    if peak is not None and base is not None:
        above = max(0.0, peak - base)
    elif _num(figures.get("bytes_per_agent")) is not None and agents:
        above = float(figures["bytes_per_agent"]) * float(_num(figures.get("agents")) or 0)
    return Step(
        load=load,
        passed=bool(report.get("passed")),
        stable=bool(steady.get("stable")),
        failed=tuple(str(t.get("expr")) for t in report.get("thresholds") or () if not t.get("ok")),
        figures={
            "agents": agents,
            "turns_answered": answered or None,
            "turns_per_s": rate if rate is not None else _num(figures.get("turns_per_s")),
            "turns_per_s_ci": _num((steady.get("turns_per_s") or {}).get("ci")),
            "response_p95": _num(figures.get("response_p95")),
            "cpu_cores": _num(steady.get("cpu_cores")) or _num(figures.get("cpu_cores")),
            "node_cpu_cores": _num(figures.get("node_cpu_cores")),
            "rss_above_base": above,
            "rss_peak": peak,
            "bytes_per_passivated": _num(probe.get("bytes_per_passivated")),
            "rss_passivated_above_base": (
                max(0.0, after - base)
                if (after := _num(probe.get("rss_passivated"))) is not None and base is not None
                else None
            ),
            "llm_calls_per_turn": calls / answered if calls is not None and answered else None,
            "llm_waiting": _num(steady.get("llm_waiting")),
            "loop_lag_max": _num(steady.get("loop_lag_max")),
            "memory_op_p99": _num(figures.get("memory_op_p99")),
            "elapsed_s": _num(report.get("elapsed_s")),
        },
    )


def _bracket(steps: Sequence[Step]) -> tuple[Step | None, Step | None]:
    """(the highest passing step below the lowest failing one, the lowest failing one)."""
    failing = [s for s in steps if not s.passed]
    hi = min(failing, key=lambda s: s.load) if failing else None
    passing = [s for s in steps if s.passed and (hi is None or s.load < hi.load)]
    lo = max(passing, key=lambda s: s.load) if passing else None
    return lo, hi


def search(
    measure: Callable[[float], Step],
    *,
    start: float,
    factor: float = 2.0,
    max_load: float,
    precision: float = 0.1,
    max_steps: int = 10,
    whole: bool = True,
    on_step: Callable[[Step], None] | None = None,
) -> list[Step]:
    """Ramp then bisect (see the module docs); returns the steps in the order they ran.

    ``whole``: loads are whole numbers (agents). The ramp stops at the first failing
    step or at ``max_load`` (that step is run at ``max_load``); bisection stops when
    ``(hi - lo) / lo <= precision``, the midpoint equals an end, or ``max_steps``
    steps ran. Raises ValueError on a bad setting."""
    if start <= 0 or max_load < start:
        raise ValueError(f"need 0 < start <= max_load, got start={start}, max_load={max_load}")
    if factor <= 1:
        raise ValueError(f"factor must be above 1, got {factor}")
    if precision <= 0:
        raise ValueError(f"precision must be above 0, got {precision}")
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    steps: list[Step] = []

    def run(load: float) -> Step:
        step = measure(float(round(load)) if whole else load)
        steps.append(step)
        if on_step is not None:
            on_step(step)
        return step

    load = start
    while len(steps) < max_steps:
        step = run(load)
        if not step.passed or load >= max_load:
            break
        load = min(max_load, load * factor)
    while len(steps) < max_steps:
        lo, hi = _bracket(steps)
        if lo is None or hi is None or (hi.load - lo.load) <= precision * lo.load:
            break
        mid = (lo.load + hi.load) / 2
        if whole:
            mid = float(round(mid))
        if mid in (lo.load, hi.load):
            break
        run(mid)
    return steps


def search_both(
    measure: Callable[[float, float], Step],
    *,
    levels: Sequence[float],
    start: float,
    factor: float = 2.0,
    max_load: float,
    precision: float = 0.1,
    max_steps: int = 10,
    on_step: Callable[[Step], None] | None = None,
) -> list[Step]:
    """The ``"both"`` axis: for each live-agents level of ``levels`` (ascending), a
    :func:`search` over offered turns/s (``start``, ``factor``, ``max_load``,
    ``precision``, ``max_steps`` per level); ``measure(agents, rate)``. Each step is
    returned with its ``level`` set. A level whose first step fails ends the search (more
    agents at the same lowest rate can only do worse). Raises ValueError on a bad setting
    or an empty or non-ascending ``levels``."""
    if not levels or any(b <= a for a, b in itertools.pairwise(levels)):
        raise ValueError(f"levels must be ascending and not empty, got {list(levels)}")
    if levels[0] < 1:
        raise ValueError(f"levels must be at least 1 agent, got {levels[0]:g}")
    steps: list[Step] = []
    for level in levels:

        def at_level(rate: float, level: float = level) -> Step:
            step = measure(level, rate)
            return Step(
                load=step.load,
                passed=step.passed,
                stable=step.stable,
                failed=step.failed,
                figures=step.figures,
                level=level,
            )

        found = search(
            at_level,
            start=start,
            factor=factor,
            max_load=max_load,
            precision=precision,
            max_steps=max_steps,
            whole=False,
            on_step=on_step,
        )
        steps.extend(found)
        if not found[0].passed:
            break
    return steps


def frontier(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """On the ``"both"`` axis: per live-agents level, its knee (the highest passing
    offered rate below the lowest failing one) and first failure, as
    ``{"agents", "knee_turns_per_s", "knee_load", "failure_load"}`` (None where none)."""
    out = []
    for level in sorted({s.level for s in steps if s.level is not None}):
        lo, hi = _bracket([s for s in steps if s.level == level])
        out.append(
            {
                "agents": level,
                "knee_turns_per_s": lo.get("turns_per_s") if lo is not None else None,
                "knee_load": lo.load if lo is not None else None,
                "failure_load": hi.load if hi is not None else None,
            }
        )
    return out


def _knee_bracket(steps: Sequence[Step], axis: Axis) -> tuple[Step | None, Step | None]:
    """The knee and first failure; on ``"both"``: those of the level whose knee has the
    most turns/s."""
    if axis != "both":
        return _bracket(steps)
    best: tuple[Step | None, Step | None] = (None, None)
    for level in sorted({s.level for s in steps if s.level is not None}):
        lo, hi = _bracket([s for s in steps if s.level == level])
        if lo is not None and (best[0] is None or _rate(lo) > _rate(best[0])):
            best = (lo, hi)
    if best[0] is None and steps:  # no level passed: the lowest level's failure
        best = (None, _bracket([s for s in steps if s.level == steps[0].level])[1])
    return best


def _rate(step: Step) -> float:
    return step.get("turns_per_s") or 0.0


def _fit(points: list[tuple[float, float]]) -> LinearFit | None:
    if len({x for x, _ in points}) < 2:
        return None
    return fit_line([x for x, _ in points], [y for _, y in points])


def _fit_dict(fit: LinearFit | None) -> dict[str, float | None] | None:
    if fit is None:
        return None
    out = asdict(fit)
    return {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()
    }


def _points(steps: Sequence[Step], x: str, y: str) -> list[tuple[float, float]]:
    out = []
    for s in steps:
        vx, vy = s.get(x), s.get(y)
        if vx is not None and vy is not None:
            out.append((vx, vy))
    return out


def limiting_resource(
    step: Step, *, max_concurrency: int | None, memory_budget: float, uses_redis: bool
) -> tuple[str, dict[str, float]]:
    """The resource nearest its limit at ``step`` and every resource's use (1.0: at its
    limit): see the module docs."""
    use: dict[str, float] = {}
    cores = step.get("cpu_cores")
    lag = step.get("loop_lag_max")
    if cores is not None or lag is not None:
        use["loop CPU"] = max(cores or 0.0, 1.0 if (lag or 0.0) > _LOOP_LAG_FULL_S else 0.0)
    waiting = step.get("llm_waiting")
    if max_concurrency:
        rate, calls = step.get("turns_per_s"), step.get("llm_calls_per_turn")
        latency = step.get("llm_latency_s")
        share = 0.0
        if rate is not None and calls is not None and latency is not None:
            share = rate * calls * latency / max_concurrency
        if waiting is not None and waiting >= 0.5:
            share = max(share, 1.0 + waiting / max_concurrency)
        use["LLM concurrency"] = share
    rss = step.get("rss_peak")
    if rss is not None and memory_budget > 0:
        use["memory"] = rss / memory_budget
    op = step.get("memory_op_p99")
    if uses_redis and op is not None:
        use["Redis"] = op / _REDIS_OP_LIMIT_S
    if not use:
        return "unknown", use
    name = max(use, key=lambda k: use[k])
    if use[name] < _NEAR_LIMIT:
        # the step failed with every resource of the node far from its limit
        return f"none near its limit ({name} {use[name]:.0%}): other processes' load?", {
            k: round(v, 4) for k, v in use.items()
        }
    if name == "loop CPU" and (lag or 0.0) > _LOOP_LAG_FULL_S and (cores or 0.0) < 0.5:
        # the loop lagged without using the CPU: other processes had it
        name = "loop CPU (starved by other processes)"
    return name, {k: round(v, 4) for k, v in use.items()}


def fit_model(
    steps: Sequence[Step],
    *,
    axis: Axis,
    llm_latency_s: float,
    max_concurrency: int | None,
    memory_budget: float,
    uses_redis: bool = False,
) -> dict[str, Any]:
    """The capacity model of a search (see the module docs), JSON-ready. Raises
    ValueError when no step was measured."""
    if not steps:
        raise ValueError("fit_model needs at least one step")
    lo, hi = _knee_bracket(steps, axis)
    passing = [s for s in steps if s.passed]
    basis = passing if len(passing) >= 2 else list(steps)
    cpu = _fit(_points(basis, "turns_per_s", "cpu_cores"))
    memory = _fit(_points(basis, "agents", "rss_above_base"))
    rate = _fit(_points(basis, "agents", "turns_per_s"))
    passive_fit = _fit(_points(basis, "agents", "rss_passivated_above_base"))
    passive = [v for s in basis if (v := s.get("bytes_per_passivated")) is not None]
    calls = [v for s in basis if (v := s.get("llm_calls_per_turn")) is not None]
    judged = hi if hi is not None else steps[-1]
    judged = Step(
        load=judged.load,
        passed=judged.passed,
        figures={**judged.figures, "llm_latency_s": llm_latency_s},
    )
    limit, use = limiting_resource(
        judged,
        max_concurrency=max_concurrency,
        memory_budget=memory_budget,
        uses_redis=uses_redis,
    )

    def knee_figures(step: Step | None) -> dict[str, Any] | None:
        if step is None:
            return None
        return {"load": step.load, **dict(step.figures)}

    calls_ci = mean_ci(calls) if calls else None
    # the cost per turn near the knee: the upper half of the passing steps (by load)
    upper = sorted(basis, key=lambda s: s.load)[len(basis) // 2 :]
    per_turn = [c / r for s in upper if (c := s.get("cpu_cores")) and (r := s.get("turns_per_s"))]
    # RSS against live agents and the turns they stored (the conversations grow)
    mem_points = [
        (a, t, m)
        for s in basis
        if (a := s.get("agents")) is not None
        and (t := s.get("turns_answered")) is not None
        and (m := s.get("rss_above_base")) is not None
    ]
    plane = (
        fit_plane(
            [p[0] for p in mem_points], [p[1] for p in mem_points], [p[2] for p in mem_points]
        )
        if mem_points
        else None
    )
    passive_ci = mean_ci(passive) if passive else None
    return {
        "axis": axis,
        "knee": knee_figures(lo),
        "first_failure": knee_figures(hi),
        "first_failure_thresholds": list(hi.failed) if hi is not None else [],
        "limiting_resource": limit,
        "resource_use": use,
        "fits": {
            "cpu_cores_vs_turns_per_s": _fit_dict(cpu),
            "rss_vs_agents": _fit_dict(memory),
            "turns_per_s_vs_agents": _fit_dict(rate),
            "rss_passivated_vs_agents": _fit_dict(passive_fit),
        },
        "cpu_per_turn_s": cpu.slope if cpu else None,
        "cpu_per_turn_near_knee_s": sum(per_turn) / len(per_turn) if per_turn else None,
        "rss_vs_agents_and_turns": (
            {"base": plane[0], "per_agent": plane[1], "per_turn": plane[2]} if plane else None
        ),
        "bytes_per_live_agent": memory.slope if memory else None,
        "bytes_per_passivated_agent": (
            passive_fit.slope if passive_fit else passive_ci.mean if passive_ci else None
        ),
        "llm_calls_per_turn": calls_ci.mean if calls_ci else None,
        "llm_calls_per_turn_ci": (
            calls_ci.half_width if calls_ci and math.isfinite(calls_ci.half_width) else None
        ),
        "llm_latency_s": llm_latency_s,
        "llm_max_concurrency": max_concurrency,
        "memory_budget": memory_budget,
        "steps_fitted": len(basis),
        "frontier": frontier(steps) if axis == "both" else None,
        "curve": [
            {k: s.get(k) for k in ("agents", "turns_per_s", "cpu_cores", "turns_answered")}
            for s in sorted(basis, key=lambda s: s.load)
        ],
    }


def load_capacity(data: Any, source: str) -> dict[str, Any]:
    """Check that ``data`` (parsed JSON) is an ``agentrt capacity`` result; returns it.
    ConfigError names ``source`` otherwise."""
    if not isinstance(data, dict) or data.get("schema") != CAPACITY_SCHEMA:
        raise ConfigError(
            source, f"not an agentrt capacity result (expected schema {CAPACITY_SCHEMA!r})"
        )
    if not isinstance(data.get("model"), dict):
        raise ConfigError(source, 'no "model" object: the capacity run fitted no model')
    return data
