"""What a capacity model predicts at a load its search did not run, on one node or on N.

**One node** (:func:`predict`), ``agents`` live agents of the searched scenario:

- ``turns_per_s`` by Little's law over the closed loop: each agent's cycle (think time
  plus response time) is ``agents / turns_per_s`` at every measured step; the cycle at
  ``agents`` is interpolated linearly between the two measured steps around it (beyond
  the measured range: the line through the two nearest), and the rate is ``agents /
  cycle``. The cycle grows as the node fills (the response time queues), which a straight
  line of turns/s against agents cannot follow: that line was the main error of the
  first model (31 % on turns/s in a search whose turns/s per agent went 2.3, 0.83, 1.2);
- ``cpu_cores``: that rate times the CPU per turn near the knee (the mean of cores /
  turns/s over the upper half of the passing steps), not the slope of one line over the
  whole search, whose intercept stands for the low steps' fixed overhead (timers, the
  sampler, GC: 2.8 ms per turn at 25 agents, 1.0 ms near the knee);
- ``rss_above_base`` from the memory fit against agents, and ``llm_in_flight`` by
  Little's law.

:func:`predict_costs` is the cost model alone at a measured load: CPU at the measured
turns/s, RSS for the measured agents and the turns they stored (RSS against agents and
turns: the memory store keeps each conversation, so a step that ran longer holds more;
against agents alone, a 19 s check step was predicted 45 % too high from 30 s steps).

A model saved before the ``curve`` existed (``agentrt.capacity/1`` files of earlier
versions) falls back to the fitted lines.

**N nodes** (:func:`predict_nodes`) from a one-node search of a ``[cluster]`` scenario:
the plan's claim is that ``nodes`` nodes hold ``nodes *`` the knee's agents at ``nodes
*`` its turns/s. On a machine whose CPUs the nodes, their load generator and other work
share, that cannot hold, so the prediction is the smaller of that linear scaling and what
the CPU the run gets allows: its share of the cores (:func:`fair_share`: the machine's
other runnable processes estimated from the most CPU the one-node search got) divided by
the CPU seconds per turn of every process of the run (nodes, load generator and
redis-server together) measured at the one-node knee. :func:`share_prediction` is the
second check, independent of the other processes: from the cores the N-node run's
processes did get, the turns/s the one-node CPU per turn allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from agentrt.loadtest._stats import LinearFit

__all__ = [
    "check_prediction",
    "fair_share",
    "fit_of",
    "interpolate",
    "predict",
    "predict_costs",
    "predict_nodes",
    "share_prediction",
]


def fit_of(model: Mapping[str, Any], name: str) -> LinearFit | None:
    """The fitted line ``name`` of a saved model (``model["fits"][name]``), or None."""
    raw = (model.get("fits") or {}).get(name)
    if not raw:
        return None

    def f(key: str) -> float:
        value = raw.get(key)
        return math.inf if value is None else float(value)

    return LinearFit(
        slope=f("slope"),
        intercept=f("intercept"),
        slope_se=f("slope_se"),
        intercept_se=f("intercept_se"),
        n=int(raw.get("n") or 0),
        r2=f("r2"),
        x_mean=f("x_mean"),
        sxx=f("sxx"),
        residual_sd=f("residual_sd"),
    )


def interpolate(points: Sequence[tuple[float, float]], x: float) -> float | None:
    """``y`` at ``x`` on the piecewise-linear curve through ``points`` (sorted by x here;
    points sharing an x are averaged); beyond the ends, on the line through the two
    nearest points. None without points; the one ``y`` with one."""
    by_x: dict[float, list[float]] = {}
    for px, py in points:
        by_x.setdefault(px, []).append(py)
    curve = sorted((px, sum(ys) / len(ys)) for px, ys in by_x.items())
    if not curve:
        return None
    if len(curve) == 1:
        return curve[0][1]
    i = 0
    while i < len(curve) - 2 and curve[i + 1][0] < x:
        i += 1
    (x0, y0), (x1, y1) = curve[i], curve[i + 1]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def _curve(model: Mapping[str, Any], x: str, y: str) -> list[tuple[float, float]]:
    out = []
    for point in model.get("curve") or ():
        vx, vy = point.get(x), point.get(y)
        if vx is not None and vy is not None:
            out.append((float(vx), float(vy)))
    return out


def _cpu(model: Mapping[str, Any], rate: float) -> float | None:
    per_turn = model.get("cpu_per_turn_near_knee_s")
    if per_turn is not None:
        return rate * float(per_turn)
    cpu_fit = fit_of(model, "cpu_cores_vs_turns_per_s")
    return cpu_fit.predict(rate) if cpu_fit else None


def predict(model: Mapping[str, Any], agents: float) -> dict[str, float | None]:
    """What the model says one node does with ``agents`` live agents of the searched
    scenario: ``turns_per_s``, ``cpu_cores``, ``rss_above_base``, ``llm_in_flight``
    (module docs; None for a figure the model has nothing for)."""
    cycles = [(a, a / r) for a, r in _curve(model, "agents", "turns_per_s") if a > 0 and r > 0]
    rate: float | None
    if len(cycles) >= 2:
        cycle = interpolate(cycles, agents)
        rate = agents / cycle if cycle is not None and cycle > 0 else None
    else:
        rate_fit = fit_of(model, "turns_per_s_vs_agents")
        rate = rate_fit.predict(agents) if rate_fit else None
    mem_fit = fit_of(model, "rss_vs_agents")
    calls = model.get("llm_calls_per_turn")
    return {
        "turns_per_s": rate,
        "cpu_cores": _cpu(model, rate) if rate is not None else None,
        "rss_above_base": mem_fit.predict(agents) if mem_fit else None,
        "llm_in_flight": (
            rate * calls * float(model["llm_latency_s"])
            if rate is not None and calls is not None
            else None
        ),
    }


def predict_costs(
    model: Mapping[str, Any], agents: float, turns_per_s: float, turns_answered: float | None
) -> dict[str, float | None]:
    """The cost model alone, at a measured load: ``cpu_cores`` at ``turns_per_s`` (the
    CPU per turn near the knee), ``rss_above_base`` for ``agents`` live agents that
    stored ``turns_answered`` turns (RSS against agents and turns; None when the model
    has no such fit or ``turns_answered`` is None)."""
    plane = model.get("rss_vs_agents_and_turns")
    rss = None
    if plane and turns_answered is not None:
        rss = plane["base"] + plane["per_agent"] * agents + plane["per_turn"] * turns_answered
    return {"cpu_cores": _cpu(model, turns_per_s), "rss_above_base": rss}


def fair_share(cores: float, processes: int, others: float) -> float:
    """Cores ``processes`` busy processes get on ``cores`` CPUs shared with ``others``
    other runnable processes, each process at most one core: ``cores * processes /
    (processes + others)``, at most ``min(cores, processes)``."""
    return min(cores, float(processes), cores * processes / (processes + max(0.0, others)))


def predict_nodes(
    model: Mapping[str, Any], nodes: int, cores: float, ceiling: float | None = None
) -> dict[str, Any]:
    """The load and turns/s ``nodes`` nodes hold by the plan's rule, from a one-node
    model of a ``[cluster]`` scenario, on a machine with ``cores`` CPUs (module docs).

    ``ceiling``: the most cores the one-node run's processes (node, load generator,
    redis-server: 3) got in any step of the search. Below what 3 processes could use
    on ``cores`` CPUs it means other processes had the rest: their number is estimated
    from it (``others = 3 * cores / ceiling - 3``), and the N-node run's ``N + 2``
    processes are given their fair share against as many (:func:`fair_share`).

    Returns ``agents`` (the load to run: ``nodes *`` the knee's agents, scaled down by
    ``turns_per_s / linear`` when the CPU share is the limit, so that the run is at the
    predicted capacity rather than beyond it), ``turns_per_s`` (the prediction), ``linear``
    (``nodes *`` the knee's turns/s), ``cpu_bound`` (the cores the run gets divided by
    the CPU per turn; None without a CPU figure), ``cores_share``, ``others``,
    ``cpu_per_turn_s`` (every process of the run, at the knee), ``node_cpu_per_turn_s``
    and ``limited_by`` (``"nodes"`` or ``"CPU share"``). Raises ValueError when the model
    has no knee or ``nodes``/``cores`` are below 1."""
    if nodes < 1 or not cores >= 1:
        raise ValueError(f"need nodes >= 1 and cores >= 1, got {nodes} and {cores:g}")
    knee = model.get("knee") or {}
    rate, agents = knee.get("turns_per_s"), knee.get("agents")
    if not rate or not agents:
        raise ValueError("the capacity run has no knee (its first step failed)")
    rate, agents = float(rate), float(agents)
    cpu, node_cpu = knee.get("cpu_cores"), knee.get("node_cpu_cores")
    per_turn = float(cpu) / rate if cpu else None
    one = 3  # the one-node run's processes: its node, the load generator, redis-server
    others = 0.0
    if ceiling is not None and 0 < ceiling < min(cores, one):
        others = one * cores / ceiling - one
    share = fair_share(cores, nodes + 2, others)
    linear = nodes * rate
    bound = share / per_turn if per_turn else None
    predicted = min(linear, bound) if bound is not None else linear
    return {
        "nodes": nodes,
        "cores": cores,
        # at the predicted capacity, not beyond it: the agents the share can serve
        "agents": max(1, round(nodes * agents * predicted / linear)),
        "turns_per_s": predicted,
        "linear": linear,
        "cpu_bound": bound,
        "cores_share": share,
        "others": others,
        "ceiling": ceiling,
        "cpu_per_turn_s": per_turn,
        "node_cpu_per_turn_s": float(node_cpu) / rate if node_cpu else None,
        "limited_by": "CPU share" if bound is not None and bound < linear else "nodes",
    }


def share_prediction(cpu_per_turn_s: float | None, cores_used: float | None) -> float | None:
    """Turns/s that ``cores_used`` cores allow at ``cpu_per_turn_s`` CPU seconds per turn
    (None when either is unknown or zero)."""
    if not cpu_per_turn_s or not cores_used:
        return None
    return cores_used / cpu_per_turn_s


def check_prediction(
    predicted: Mapping[str, float | None], measured: Any
) -> dict[str, dict[str, float | None]]:
    """Each predicted figure beside the measured one (``measured.get(name)``, a
    :class:`~agentrt.loadtest._capacity.Step`), with the relative error
    ``|predicted - measured| / measured`` (None when either is missing or measured is 0)."""
    out = {}
    for name, value in predicted.items():
        got = measured.get(name)
        error = None
        if value is not None and got:
            error = abs(value - got) / abs(got)
        out[name] = {"predicted": value, "measured": got, "error": error}
    return out
