"""The capacity model's predictions, the both axis and the N-node prediction, on
synthetic data (no timing): a closed loop whose response time grows with the agents, a
CPU cost with a fixed overhead, memory that grows with the stored turns."""

from __future__ import annotations

import math

import pytest

from agentrt.loadtest._capacity import Step, fit_model, frontier, search, search_both
from agentrt.loadtest._capacity_predict import (
    fair_share,
    interpolate,
    predict,
    predict_costs,
    predict_nodes,
    share_prediction,
)
from agentrt.loadtest._cluster_cpu import CpuSampler, process_cpu_seconds
from agentrt.loadtest._stats import fit_plane

THINK = 0.3


def _closed_loop(agents: float) -> float:
    """turns/s of a closed loop whose response time queues: R = 0.05 + agents**2 / 4e4."""
    return agents / (THINK + 0.05 + agents**2 / 4e4)


def _measure(load: float) -> Step:
    rate = _closed_loop(load)
    turns = rate * 30  # 30 s steps
    return Step(
        load=load,
        passed=load <= 260,
        figures={
            "agents": load,
            "turns_per_s": rate,
            "turns_answered": turns,
            "response_p95": 0.5 if load <= 260 else 3.0,
            "cpu_cores": 0.1 + 0.001 * rate,  # 0.1 core of fixed overhead
            "rss_above_base": 1e6 + 20_000 * load + 2_000 * turns,
        },
    )


def _model() -> dict[str, object]:
    steps = search(_measure, start=25, max_load=10_000, precision=0.05, max_steps=12)
    return fit_model(
        steps, axis="agents", llm_latency_s=0.05, max_concurrency=None, memory_budget=2**33
    )


def test_interpolate_is_piecewise_linear_and_extends_the_end_lines() -> None:
    points = [(0.0, 0.0), (10.0, 10.0), (20.0, 40.0)]
    assert interpolate(points, 5) == pytest.approx(5)
    assert interpolate(points, 15) == pytest.approx(25)
    assert interpolate(points, 30) == pytest.approx(70)  # the last segment, extended
    assert interpolate(points, -10) == pytest.approx(-10)
    assert interpolate([(1.0, 2.0), (1.0, 4.0)], 7) == pytest.approx(3)  # one x: its mean
    assert interpolate([], 1) is None


def test_fit_plane_recovers_two_slopes_and_refuses_collinear_points() -> None:
    x1 = [1.0, 2.0, 3.0, 4.0, 2.0]
    x2 = [5.0, 1.0, 4.0, 2.0, 8.0]
    got = fit_plane(x1, x2, [3 + 2 * a - 0.5 * b for a, b in zip(x1, x2, strict=True)])
    assert got == pytest.approx((3, 2, -0.5))
    assert fit_plane(x1, [2 * a for a in x1], x1) is None  # collinear
    assert fit_plane([1.0, 2.0], [1.0, 3.0], [1.0, 2.0]) is None  # too few
    with pytest.raises(ValueError, match="fit_plane"):
        fit_plane([1.0], [1.0, 2.0], [1.0])


def test_prediction_follows_the_closed_loop_where_a_straight_line_does_not() -> None:
    model = _model()
    agents = 230.0  # between the searched steps, where the response time bends upward
    truth = _measure(agents)
    got = predict(model, agents)
    rate = truth.get("turns_per_s")
    assert rate is not None
    line = model["fits"]["turns_per_s_vs_agents"]  # type: ignore[index]
    line_rate = line["intercept"] + line["slope"] * agents
    assert got["turns_per_s"] == pytest.approx(rate, rel=0.05)
    assert abs(line_rate - rate) / rate > 0.05  # the old model's straight line misses it
    # CPU per turn near the knee: the fixed overhead is amortised over more turns there
    assert got["cpu_cores"] == pytest.approx(truth.get("cpu_cores"), rel=0.1)


def test_cost_model_at_the_measured_load_uses_the_stored_turns() -> None:
    model = _model()
    plane = model["rss_vs_agents_and_turns"]
    assert plane == pytest.approx({"base": 1e6, "per_agent": 20_000, "per_turn": 2_000})
    truth = _measure(180)
    rate, turns = truth.get("turns_per_s"), truth.get("turns_answered")
    assert rate is not None
    assert turns is not None
    costs = predict_costs(model, 180, rate, turns / 2)  # a step half as long
    assert costs["rss_above_base"] == pytest.approx(1e6 + 20_000 * 180 + 2_000 * turns / 2)
    assert predict_costs(model, 180, rate, None)["rss_above_base"] is None


def test_a_model_without_a_curve_falls_back_to_the_lines() -> None:
    model = _model()
    old = {k: v for k, v in model.items() if k not in ("curve", "cpu_per_turn_near_knee_s")}
    line = model["fits"]["turns_per_s_vs_agents"]  # type: ignore[index]
    got = predict(old, 100)
    assert got["turns_per_s"] == pytest.approx(line["intercept"] + line["slope"] * 100)


def _both(agents: float, rate: float) -> Step:
    """A node that holds 400 turns/s with 50 agents, less as agents grow (memory, GC)."""
    limit = 400 - agents
    return Step(
        load=rate,
        passed=rate <= limit,
        figures={
            "agents": agents,
            "turns_per_s": min(rate, limit * 1.1),
            "cpu_cores": 0.002 * rate,
            "rss_above_base": 50_000 * agents,
        },
    )


def test_search_both_runs_a_rate_search_per_agents_level() -> None:
    steps = search_both(_both, levels=[50, 100, 200], start=40, max_load=5_000, precision=0.05)
    assert {s.level for s in steps} == {50, 100, 200}
    assert all(s.get("agents") == s.level for s in steps)
    edge = {row["agents"]: row for row in frontier(steps)}
    for level, limit in ((50, 350), (100, 300), (200, 200)):
        assert edge[level]["knee_load"] <= limit < edge[level]["failure_load"]
        assert edge[level]["failure_load"] - edge[level]["knee_load"] <= 0.05 * limit + 1
    model = fit_model(
        steps, axis="both", llm_latency_s=0.05, max_concurrency=None, memory_budget=2**33
    )
    assert model["knee"]["agents"] == 50  # type: ignore[index]  # the level with most turns/s
    assert model["frontier"] == frontier(steps)
    assert model["bytes_per_live_agent"] == pytest.approx(50_000)  # agents vary: a real fit


def test_search_both_stops_at_a_level_whose_first_rate_fails() -> None:
    steps = search_both(_both, levels=[50, 390, 395], start=40, max_load=5_000)
    assert {s.level for s in steps} == {50, 390}
    with pytest.raises(ValueError, match="ascending"):
        search_both(_both, levels=[100, 50], start=40, max_load=500)
    with pytest.raises(ValueError, match="ascending"):
        search_both(_both, levels=[], start=40, max_load=500)


def test_predict_nodes_scales_the_knee_and_caps_it_by_the_cores() -> None:
    model = {"knee": {"agents": 100, "turns_per_s": 300.0, "cpu_cores": 0.9, "node_cpu_cores": 0.5}}
    roomy = predict_nodes(model, 2, cores=8)
    assert roomy["agents"] == 200
    assert roomy["turns_per_s"] == pytest.approx(600)
    assert roomy["limited_by"] == "nodes"
    tight = predict_nodes(model, 2, cores=1.5)  # 3 ms per turn: 500 turns/s on 1.5 cores
    assert tight["turns_per_s"] == pytest.approx(500)
    assert tight["limited_by"] == "CPU share"
    assert tight["agents"] == round(200 * 500 / 600)  # the agents 500 turns/s serve
    assert tight["node_cpu_per_turn_s"] == pytest.approx(0.5 / 300)
    # the one-node search got 0.5 of 2 cores with 3 processes: 9 others were busy
    shared = predict_nodes(model, 2, cores=2, ceiling=0.5)
    assert shared["others"] == pytest.approx(9)
    assert shared["cores_share"] == pytest.approx(2 * 4 / 13)
    assert shared["turns_per_s"] == pytest.approx(2 * 4 / 13 / 0.003)
    assert predict_nodes(model, 2, cores=2, ceiling=2.0)["others"] == 0  # not starved
    assert fair_share(8, 3, 0) == 3  # at most a core each
    assert share_prediction(0.003, 1.2) == pytest.approx(400)
    assert share_prediction(None, 1.2) is None
    with pytest.raises(ValueError, match="no knee"):
        predict_nodes({"knee": None}, 2, cores=2)
    with pytest.raises(ValueError, match="nodes >= 1"):
        predict_nodes(model, 0, cores=2)


def test_cpu_sampler_reads_this_process_cpu_over_a_window() -> None:
    import os
    import time

    me = os.getpid()
    assert (process_cpu_seconds(me) or 0) > 0
    assert process_cpu_seconds(2**22 + 7) is None  # no such process
    sampler = CpuSampler(lambda: {"me": [me], "gone": [2**22 + 7]}, interval=0.05)
    sampler.sample()
    start = time.time()
    while time.process_time() < 0 or time.time() - start < 0.3:
        sum(i * i for i in range(1000))  # burn CPU for 0.3 s
    sampler.sample()
    cores = sampler.cores(start - 1, time.time())
    assert 0 < cores["me"] <= 1.5
    assert cores["gone"] == 0
    assert CpuSampler(dict).cores(0, 1) == {}
    assert not math.isnan(cores["me"])
