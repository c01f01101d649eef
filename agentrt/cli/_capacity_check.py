"""``agentrt capacity check``: the model's prediction against a load its search did not run.

**One node** (:func:`validate`; ``check RUN.json [--agents N] [--rounds R]`` and
``--validate`` at the end of a search): the saved model predicts the load (by default
halfway between the two highest passing steps); the check runs it between its two
neighbouring loads of the search, in ``R`` rounds of (lower, the load, upper), the order
reversed every other round, so that a change of the machine's other load hits the
neighbours and the load alike. It reports the saved model's error, the error of the same
rule (Little's law over the closed loop) applied to the neighbours measured in the same
rounds (the model without the minutes between the search and the check), and the cost
model alone at the measured load (CPU at the measured turns/s, RSS for the measured
turns): the first mixes model error with the machine's drift since the search, the
second and third are the model's own.

**N nodes** (:func:`check_nodes`; ``check --nodes N RUN.json``).

``RUN.json`` is a search of a ``[cluster]`` scenario on one node (``cluster.nodes = 1``,
as ``loadtest/capacity/cluster.toml``). The check runs the same scenario on ``N`` nodes
at ``N *`` the knee's live agents (the plan's rule: ``N`` nodes hold ``N`` knees), fewer
when the predicted CPU share is the limit (the agents that share can serve: the run is
made at the predicted capacity, not beyond it, where an overloaded cluster's turns/s
only says how it fails), and prints, beside the measured turns/s:

- the **prediction** (:func:`agentrt.loadtest._capacity_predict.predict_nodes`): ``N *``
  the knee's turns/s, capped by what the run's share of ``--cores`` CPUs allows at the
  knee's CPU per turn (every process of the run: nodes, load generator, redis-server;
  the share estimated from the most CPU the one-node search got, as if the machine's
  other load stayed the same);
- the **CPU-share prediction**: the turns/s the cores the N-node run's processes did
  get allow at that CPU per turn. On a machine shared with other work this one does not
  depend on how much CPU the others left; it checks that the per-turn cost measured on
  one node holds on N.

Each with its error ``|predicted - measured| / measured``; the goal is 15 % or less.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from agentrt.loadtest._capacity import Step
from agentrt.loadtest._capacity_predict import (
    check_prediction,
    predict,
    predict_costs,
    predict_nodes,
    share_prediction,
)
from agentrt.loadtest._units import format_value

__all__ = ["available_cores", "check_nodes", "pick_check_load", "validate"]

_FIGURES = ("agents", "turns_per_s", "cpu_cores", "rss_above_base", "turns_answered")
_UNITS = {"turns_per_s": "1/s", "rss_above_base": "B"}


def pick_check_load(steps: Sequence[dict[str, Any]]) -> int | None:
    """Between the two highest passing steps (agents), a load no step ran."""
    loads = sorted({float(s["load"]) for s in steps if s.get("passed")})
    ran = {float(s["load"]) for s in steps}
    if len(loads) < 2:
        return None
    mid = round((loads[-1] + loads[-2]) / 2)
    return None if mid in ran else int(mid)


def _neighbours(steps: Sequence[dict[str, Any]], agents: float) -> tuple[float, float] | None:
    """The passing loads of the search just below and just above ``agents``."""
    loads = sorted({float(s["load"]) for s in steps if s.get("passed")})
    below = [x for x in loads if x < agents]
    above = [x for x in loads if x > agents]
    return (below[-1], above[0]) if below and above else None


def _mean_step(load: float, steps: Sequence[Step]) -> Step:
    """One step whose figures are the means of ``steps``' (over those that have each)."""
    figures: dict[str, float | None] = {}
    for name in _FIGURES:
        values = [v for s in steps if (v := s.get(name)) is not None]
        figures[name] = sum(values) / len(values) if values else None
    return Step(load=load, passed=all(s.passed for s in steps), figures=figures)


def validate(
    measure: Callable[[float], Step],
    model: dict[str, Any],
    steps: Sequence[dict[str, Any]],
    agents: int,
    *,
    rounds: int,
    console: Console,
) -> dict[str, Any]:
    """Run ``agents`` (and its neighbours, interleaved, ``rounds`` times) and compare each
    prediction with the measured means (module docs); JSON-ready."""
    pair = _neighbours(steps, agents)
    runs: dict[float, list[Step]] = {}
    for r in range(rounds):
        order = [agents] if pair is None else [pair[0], agents, pair[1]]
        for load in order if r % 2 == 0 else order[::-1]:
            runs.setdefault(float(load), []).append(measure(float(load)))
    measured = _mean_step(agents, runs[float(agents)])
    errors = check_prediction(predict(model, agents), measured)
    if pair is not None:  # the same rule over the neighbours measured in the same rounds
        beside = [_mean_step(x, runs[x]).figures for x in pair]
        local = predict({**model, "curve": beside}, agents)
        errors["turns_per_s (from the neighbours)"] = check_prediction(
            {"turns_per_s": local["turns_per_s"]}, measured
        )["turns_per_s"]
    rate = measured.get("turns_per_s")
    if rate is not None:  # the cost model alone, at the load the step did run
        costs = predict_costs(model, agents, rate, measured.get("turns_answered"))
        for name, row in check_prediction(costs, measured).items():
            errors[f"{name} (at the measured load)"] = row
    finite = [e["error"] for e in errors.values() if e["error"] is not None]
    spread = [s.get("turns_per_s") for s in runs[float(agents)]]
    result = {
        "agents": agents,
        "neighbours": list(pair) if pair is not None else None,
        "rounds": rounds,
        "passed": measured.passed,
        "figures": errors,
        "max_error": max(finite) if finite else None,
        "measured_turns_per_s": spread,
        "measured_turns_per_s_ci": [s.get("turns_per_s_ci") for s in runs[float(agents)]],
        "neighbours_measured": {
            f"{x:g}": [s.get("turns_per_s") for s in runs[x]] for x in (pair or ())
        },
    }
    title = f"Prediction at {agents:,} agents (not run by the search)"
    if pair is not None:
        title += f", {rounds} round(s) between {pair[0]:g} and {pair[1]:g} agents"
    table = Table(title=title, title_justify="left")
    for col in ("figure", "predicted", "measured", "error"):
        table.add_column(col, justify="right")
    for name, row in errors.items():
        unit = _UNITS.get(name.split(" ")[0])
        err = row["error"]
        table.add_row(
            name,
            format_value(row["predicted"], unit),
            format_value(row["measured"], unit),
            "-" if err is None else f"{err:.1%}",
        )
    console.print(table)
    return result


def available_cores() -> float:
    """The CPUs this process may run on (its affinity; the CPU count elsewhere)."""
    try:
        return float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return float(os.cpu_count() or 1)


def _error(predicted: float | None, measured: float | None) -> float | None:
    if predicted is None or not measured:
        return None
    return abs(predicted - measured) / measured


def check_nodes(
    measure: Callable[[float], Step],
    model: dict[str, Any],
    steps: Sequence[dict[str, Any]],
    *,
    nodes: int,
    cores: float,
    console: Console,
) -> dict[str, Any]:
    """Predict ``nodes`` nodes from the one-node ``model`` (and the most CPU any of the
    search's ``steps`` got), run ``measure(agents)`` (a step of the scenario on ``nodes``
    nodes) at the predicted load, and compare (module docs). Raises ValueError when the
    model has no knee."""
    used = [float(c) for s in steps if (c := (s.get("figures") or {}).get("cpu_cores"))]
    predicted = predict_nodes(model, nodes, cores, max(used) if used else None)
    step = measure(float(predicted["agents"]))
    rate = step.get("turns_per_s")
    share = share_prediction(predicted["cpu_per_turn_s"], step.get("cpu_cores"))
    result = {
        **predicted,
        "measured": {
            "turns_per_s": rate,
            "response_p95": step.get("response_p95"),
            "cpu_cores": step.get("cpu_cores"),
            "node_cpu_cores": step.get("node_cpu_cores"),
            "passed": step.passed,
            "failed": list(step.failed),
        },
        "error": _error(predicted["turns_per_s"], rate),
        "share_prediction": share,
        "share_error": _error(share, rate),
    }
    knee = model.get("knee") or {}
    table = Table(
        title=f"{nodes} nodes at {predicted['agents']:,} agents, predicted from one node "
        f"(knee {format_value(knee.get('turns_per_s'), '1/s')} at "
        f"{format_value(knee.get('agents'), 'count')} agents), {cores:g} cores",
        title_justify="left",
    )
    for col in ("figure", "predicted", "measured", "error"):
        table.add_column(col, justify="right")

    def row(name: str, value: float | None, error: float | None) -> None:
        table.add_row(
            name,
            format_value(value, "1/s"),
            format_value(rate, "1/s"),
            "-" if error is None else f"{error:.1%}",
        )

    limited = f"turns/s (limited by {predicted['limited_by']})"
    row(limited, predicted["turns_per_s"], result["error"])
    row("turns/s from the CPU the run got", share, result["share_error"])
    console.print(table)
    console.print(
        f"measured: p95 {format_value(step.get('response_p95'), 's')}, "
        f"thresholds {'pass' if step.passed else 'FAIL ' + ', '.join(step.failed)}; "
        f"CPU {format_value(step.get('cpu_cores'), None)} cores "
        f"(nodes {format_value(step.get('node_cpu_cores'), None)}); predicted CPU per turn "
        f"{format_value(predicted['cpu_per_turn_s'], 's')}; the run's share of "
        f"{cores:g} cores predicted {format_value(predicted['cores_share'], None)} "
        f"(~{predicted['others']:.1f} other busy processes, from the one-node search's "
        f"{format_value(predicted['ceiling'], None)} cores at most); load average now "
        f"{os.getloadavg()[0]:.1f}",
        highlight=False,
    )
    return result
