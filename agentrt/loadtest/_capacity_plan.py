"""The fleet plan of a capacity model: nodes, memory per node and LLM concurrency for a
target load (:func:`plan`; see :mod:`agentrt.loadtest._capacity` for the model)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from agentrt.errors import ConfigError
from agentrt.loadtest._capacity_predict import fit_of

__all__ = ["plan"]


def _ceil(x: float) -> int:
    return max(1, math.ceil(x - 1e-9))


def plan(
    model: Mapping[str, Any],
    *,
    agents: int,
    turns_per_s: float,
    llm_p50_s: float,
    live_fraction: float = 1.0,
    node_memory: float | None = None,
    headroom: float = 0.8,
) -> dict[str, Any]:
    """Nodes, memory per node and LLM concurrency for ``agents`` agents (``live_fraction``
    of them live, the rest passivated) at ``turns_per_s``, with an LLM of p50 latency
    ``llm_p50_s``, from a capacity model (see the module docs). ``node_memory``: each
    node's memory (default the model's ``memory_budget``), of which ``headroom`` is
    used. Each figure has ``low``/``high`` bounds: the knee's bracket for the turn rate,
    the fits' 95 % intervals for memory, the calls-per-turn interval for the LLM.

    Raises ConfigError naming the argument when the model has no knee (every step
    failed) or lacks the fits the plan needs, or an argument is out of range."""
    if agents < 1:
        raise ConfigError("--agents", f"must be at least 1, got {agents}")
    if not turns_per_s > 0:
        raise ConfigError("--turns-per-s", f"must be above 0, got {turns_per_s}")
    if not llm_p50_s > 0:
        raise ConfigError("--llm-p50", f"must be above 0, got {llm_p50_s}")
    if not 0 <= live_fraction <= 1:
        raise ConfigError("--live-fraction", f"must be within [0, 1], got {live_fraction}")
    knee, fail = model.get("knee"), model.get("first_failure")
    if not knee or not knee.get("turns_per_s"):
        raise ConfigError(
            "--from",
            "the capacity run has no knee (its first step failed): run it from a lower --start",
        )
    mem_fit = fit_of(model, "rss_vs_agents")
    if mem_fit is None:
        raise ConfigError("--from", "the capacity run has no memory fit (fewer than two loads)")
    budget = float(node_memory if node_memory is not None else model["memory_budget"]) * headroom
    rate = float(knee["turns_per_s"])  # sustained: the conservative per-node rate
    spread = float(knee.get("turns_per_s_ci") or 0.0)  # the knee step's own 95 % CI
    rate_lo = max(rate - spread, rate * 0.01)
    # the first failing step bounds it from above (when overload did not collapse it)
    fail_rate = float(fail["turns_per_s"]) if fail and fail.get("turns_per_s") else 0.0
    rate_hi = max(rate + spread, fail_rate)
    calls = float(model.get("llm_calls_per_turn") or 1.0)
    calls_ci = float(model.get("llm_calls_per_turn_ci") or 0.0)
    max_conc = model.get("llm_max_concurrency")
    llm_cap = float(max_conc) * headroom / (calls * llm_p50_s) if max_conc else math.inf
    per_node_rate = min(rate, llm_cap)
    live = agents * live_fraction
    passive = agents - live
    per_passive = float(model.get("bytes_per_passivated_agent") or mem_fit.slope)
    se = mem_fit.slope_se if math.isfinite(mem_fit.slope_se) else 0.0

    def memory_need(nodes: int, slope: float) -> float:
        return mem_fit.intercept + (slope * live + per_passive * passive) / nodes

    def nodes_for(rate_cap: float, slope: float) -> int:
        n = _ceil(turns_per_s / rate_cap)
        while memory_need(n, slope) > budget and n < 1_000_000:
            n += 1
        return n

    nodes = nodes_for(per_node_rate, mem_fit.slope)
    best = nodes_for(min(rate_hi, llm_cap), max(0.0, mem_fit.slope - 1.96 * se))
    worst = nodes_for(min(rate_lo, llm_cap), mem_fit.slope + 1.96 * se)
    concurrency = turns_per_s * calls * llm_p50_s
    by = "turn rate" if _ceil(turns_per_s / per_node_rate) >= nodes else "memory"
    return {
        "agents": agents,
        "turns_per_s": turns_per_s,
        "llm_p50_s": llm_p50_s,
        "live_fraction": live_fraction,
        "nodes": {"value": nodes, "low": min(best, nodes), "high": max(worst, nodes)},
        "nodes_limited_by": by,
        "turns_per_s_per_node": turns_per_s / nodes,
        "node_capacity_turns_per_s": {
            "value": per_node_rate,
            "low": min(rate_lo, llm_cap),
            "high": min(rate_hi, llm_cap),
            "limited_by": "knee" if rate <= llm_cap else "LLM concurrency limit",
        },
        "memory_per_node": {
            "value": memory_need(nodes, mem_fit.slope),
            "low": memory_need(nodes, max(0.0, mem_fit.slope - 1.96 * se)),
            "high": memory_need(nodes, mem_fit.slope + 1.96 * se),
            "budget": budget,
        },
        "llm_concurrency": {
            "value": concurrency,
            "low": turns_per_s * max(0.0, calls - calls_ci) * llm_p50_s,
            "high": turns_per_s * (calls + calls_ci) * llm_p50_s,
            "per_node": concurrency / nodes,
        },
        "cpu_cores_per_node": (
            cpu.predict(turns_per_s / nodes)
            if (cpu := fit_of(model, "cpu_cores_vs_turns_per_s")) is not None
            else None
        ),
        "notes": [
            "Little's law with the p50 as the latency: a long-tailed LLM's mean is above "
            "its p50, so size the LLM pool from the high bound",
            "per-node turn rate from the knee measured on the saved run's machine "
            "(high bound: the first failing step)",
        ],
    }
