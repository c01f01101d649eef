"""The capacity search, fits, plan and A/B statistics on synthetic data (no timing)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from agentrt.errors import ConfigError
from agentrt.loadtest._ab import MIN_ROUNDS, judge, round_order
from agentrt.loadtest._capacity import (
    Step,
    check_prediction,
    fit_model,
    limiting_resource,
    plan,
    predict,
    search,
    step_from_report,
)
from agentrt.loadtest._collect import Sample, Series
from agentrt.loadtest._stats import (
    bootstrap_ratio,
    fit_line,
    log_ratio_interval,
    mean_ci,
    t95,
)
from agentrt.loadtest._steady import SteadyWatch, steady_samples

# -- statistics ---------------------------------------------------------------------------


def test_mean_ci_matches_the_t_interval() -> None:
    ci = mean_ci([10.0, 12.0, 14.0])
    assert ci.mean == 12.0
    assert ci.half_width == pytest.approx(4.303 * 2.0 / math.sqrt(3))
    assert ci.relative == pytest.approx(ci.half_width / 12)
    assert math.isinf(mean_ci([5.0]).half_width)
    assert mean_ci([3.0, 3.0, 3.0]).relative == 0
    assert t95(100) == 1.96
    assert math.isinf(t95(0))
    with pytest.raises(ValueError, match="at least one"):
        mean_ci([])


def test_fit_line_recovers_a_known_line_and_its_errors() -> None:
    xs = [1.0, 2.0, 3.0, 4.0, 5.0]
    exact = fit_line(xs, [0.5 + 2 * x for x in xs])
    assert exact.slope == pytest.approx(2)
    assert exact.intercept == pytest.approx(0.5)
    assert exact.slope_se == pytest.approx(0, abs=1e-12)
    assert exact.r2 == pytest.approx(1)
    noisy = fit_line(xs, [2.4, 4.6, 6.4, 8.6, 10.4])  # +-0.1 around 0.5 + 2x
    assert noisy.slope == pytest.approx(2.0, abs=0.05)
    assert 0 < noisy.slope_se < 0.1
    assert noisy.predict(10) == pytest.approx(noisy.intercept + 10 * noisy.slope)
    assert noisy.predict_se(3) < noisy.predict_se(10)  # wider away from the data
    assert math.isinf(fit_line([1.0, 2.0], [1.0, 3.0]).slope_se)  # two points: no error
    with pytest.raises(ValueError, match="every x is the same"):
        fit_line([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="3 x values but 2"):
        fit_line([1.0, 2.0, 3.0], [1.0, 2.0])


def test_bootstrap_ratio_is_paired_deterministic_and_significant_only_when_apart() -> None:
    a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # b moves with a round by round (shared noise), 10 % higher: paired, that is clear
    b = [x * 1.1 for x in a]
    r = bootstrap_ratio(a, b, seed=1)
    assert r.ratio == pytest.approx(1.1)
    assert r.low == pytest.approx(1.1)
    assert r.high == pytest.approx(1.1)
    assert r.significant
    same = bootstrap_ratio(a, [2.0, 1.0, 4.0, 3.0, 6.0, 5.0], seed=1)
    assert same.low < 1 < same.high
    assert not same.significant
    assert bootstrap_ratio(a, b, seed=3) == bootstrap_ratio(a, b, seed=3)
    with pytest.raises(ValueError, match="6 A rounds but 2 B"):
        bootstrap_ratio(a, [1.0, 2.0])
    with pytest.raises(ValueError, match="mean of A is 0"):
        bootstrap_ratio([0.0, 0.0], [1.0, 1.0])


def test_log_ratio_interval_widens_with_few_rounds() -> None:
    a, b = [1.0, 1.0, 1.0], [2.2, 1.97, 1.03]  # three A/A-like rounds from a busy machine
    low, high = log_ratio_interval(a, b)
    assert low < 1 < high  # the t interval is not fooled by three rounds
    boot = bootstrap_ratio(a, b, seed=0)
    assert boot.low > 1  # the percentile bootstrap alone would call it significant
    assert log_ratio_interval([1.0, 2.0], [1.5, 3.0]) == pytest.approx((1.5, 1.5))
    assert log_ratio_interval([1.0], [2.0]) == (0.0, math.inf)
    with pytest.raises(ValueError, match="above 0"):
        log_ratio_interval([0.0, 1.0], [1.0, 1.0])


def test_judge_uses_the_wider_interval() -> None:
    (row,) = judge({"turns_per_s": [1.0, 1.0, 1.0]}, {"turns_per_s": [2.2, 1.97, 1.03]})
    assert row.low < 1 < row.high
    assert not row.significant
    assert row.verdict == "same"


# -- A/B ------------------------------------------------------------------------------------


def test_round_order_alternates_pairs() -> None:
    assert round_order(3) == ["a", "b", "b", "a", "a", "b"]
    with pytest.raises(ValueError):
        round_order(0)


def test_judge_gates_only_on_a_whole_interval_beyond_the_threshold() -> None:
    a = {"response_p95": [0.10, 0.20, 0.15, 0.12], "turns_per_s": [100.0, 90.0, 95.0, 99.0]}
    slower = {"response_p95": [0.13, 0.26, 0.195, 0.156], "turns_per_s": [100.0, 91.0, 94.0, 99.0]}
    rows = {r.figure: r for r in judge(a, slower, fail_on=10)}
    p95 = rows["response_p95"]
    assert p95.ratio == pytest.approx(1.3)
    assert p95.verdict == "worse"
    assert p95.regression
    assert rows["turns_per_s"].verdict == "same"
    assert not rows["turns_per_s"].regression
    # the same 30 % at a 50 % gate is no regression
    assert not any(r.regression for r in judge(a, slower, fail_on=50))
    # noise: B scattered around A (interval spans 1): never a regression, however large
    noisy = {"response_p95": [0.05, 0.40, 0.07, 0.30]}
    row = judge({"response_p95": a["response_p95"]}, noisy, fail_on=1)[0]
    assert row.low < 1 < row.high
    assert not row.regression
    assert row.verdict == "same"
    # too few rounds: not significant, not a regression
    few = judge({"response_p95": [0.1] * (MIN_ROUNDS - 1)}, {"response_p95": [0.5] * 2}, fail_on=1)
    assert not few[0].significant
    assert not few[0].regression
    # missing values are left out pairwise
    gaps = judge({"cpu_per_turn": [1.0, None, 1.0, 1.0]}, {"cpu_per_turn": [2.0, 2.0, None, 2.0]})
    assert gaps[0].ratio == pytest.approx(2.0)


# -- the search -----------------------------------------------------------------------------


def _synthetic(knee: float, cpu_per_turn: float = 0.001, bytes_per_agent: float = 50_000):
    """A node whose p95 crosses 2 s above ``knee`` agents; each agent does 2 turns/s."""

    ran: list[float] = []

    def measure(load: float) -> Step:
        ran.append(load)
        rate = 2.0 * load
        return Step(
            load=load,
            passed=load <= knee,
            figures={
                "agents": load,
                "turns_per_s": rate,
                "response_p95": 0.2 if load <= knee else 3.0,
                "cpu_cores": 0.02 + cpu_per_turn * rate,
                "rss_above_base": 1e6 + bytes_per_agent * load,
                "rss_passivated_above_base": 1e6 + 5_000 * load,
                "rss_peak": 5e7 + bytes_per_agent * load,
                "llm_calls_per_turn": 1.5,
                "llm_waiting": 0.0,
                "loop_lag_max": 0.001,
            },
        )

    return measure, ran


def test_search_ramps_then_bisects_to_the_precision() -> None:
    measure, ran = _synthetic(knee=700)
    steps = search(measure, start=100, factor=2, max_load=100_000, precision=0.05, max_steps=20)
    assert ran[:4] == [100, 200, 400, 800]  # ramp to the first failure, then stop ramping
    assert all(lo < 800 for lo in ran[4:])  # bisection stays inside the bracket
    passing = max(s.load for s in steps if s.passed)
    failing = min(s.load for s in steps if not s.passed)
    assert passing <= 700 < failing
    assert (failing - passing) <= 0.05 * passing


def test_search_stops_at_max_steps_and_max_load() -> None:
    measure, ran = _synthetic(knee=10**9)
    steps = search(measure, start=10, factor=10, max_load=500, max_steps=10)
    assert ran == [10, 100, 500]  # capped at max_load, never beyond
    assert all(s.passed for s in steps)
    measure, ran = _synthetic(knee=700)
    assert len(search(measure, start=100, max_load=10**6, max_steps=3)) == 3


def test_search_refuses_bad_settings() -> None:
    measure, _ = _synthetic(knee=5)
    for kwargs, text in [
        ({"start": 0, "max_load": 10}, "start"),
        ({"start": 10, "max_load": 5}, "start"),
        ({"start": 1, "max_load": 5, "factor": 1.0}, "factor"),
        ({"start": 1, "max_load": 5, "precision": 0}, "precision"),
        ({"start": 1, "max_load": 5, "max_steps": 0}, "max_steps"),
    ]:
        with pytest.raises(ValueError, match=text):
            search(measure, **kwargs)  # type: ignore[arg-type]


def _model(knee: float = 700) -> dict[str, object]:
    measure, _ = _synthetic(knee=knee)
    steps = search(measure, start=100, max_load=10**5, precision=0.05, max_steps=20)
    return fit_model(
        steps, axis="agents", llm_latency_s=0.05, max_concurrency=1024, memory_budget=8 * 2**30
    )


def test_fit_model_recovers_the_synthetic_costs_and_knee() -> None:
    model = _model()
    assert model["cpu_per_turn_s"] == pytest.approx(0.001)
    assert model["bytes_per_live_agent"] == pytest.approx(50_000)
    assert model["bytes_per_passivated_agent"] == pytest.approx(5_000)
    assert model["llm_calls_per_turn"] == pytest.approx(1.5)
    knee = model["knee"]
    assert isinstance(knee, dict)
    assert knee["agents"] <= 700
    assert knee["turns_per_s"] <= 1400
    assert model["limiting_resource"] == "loop CPU"  # 1.6 cores at the first failure


def test_prediction_and_its_error() -> None:
    model = _model()
    got = predict(model, 300)
    assert got["turns_per_s"] == pytest.approx(600)
    # the CPU per turn near the knee (0.02 cores of overhead spread over its turns)
    assert got["cpu_cores"] == pytest.approx(600 * model["cpu_per_turn_near_knee_s"])
    assert got["cpu_cores"] == pytest.approx(0.62, rel=0.02)
    assert got["rss_above_base"] == pytest.approx(1e6 + 50_000 * 300)
    assert got["llm_in_flight"] == pytest.approx(600 * 1.5 * 0.05)
    measured = Step(load=300, passed=True, figures={"turns_per_s": 500.0, "cpu_cores": 0.62})
    errors = check_prediction(got, measured)
    assert errors["turns_per_s"]["error"] == pytest.approx(0.2)
    assert errors["cpu_cores"]["error"] == pytest.approx(abs(got["cpu_cores"] - 0.62) / 0.62)
    assert errors["rss_above_base"]["error"] is None  # not measured


def test_limiting_resource_picks_the_fullest() -> None:
    step = Step(
        load=1,
        passed=False,
        figures={"cpu_cores": 0.3, "llm_waiting": 40.0, "turns_per_s": 100.0, "rss_peak": 1e9},
    )
    name, use = limiting_resource(step, max_concurrency=8, memory_budget=4e9, uses_redis=False)
    assert name == "LLM concurrency"
    assert use["LLM concurrency"] > 1
    step = Step(load=1, passed=False, figures={"cpu_cores": 0.3, "rss_peak": 3.9e9})
    assert (
        limiting_resource(step, max_concurrency=None, memory_budget=4e9, uses_redis=False)[0]
        == "memory"
    )
    step = Step(load=1, passed=False, figures={"cpu_cores": 0.3, "memory_op_p99": 0.5})
    assert (
        limiting_resource(step, max_concurrency=None, memory_budget=4e9, uses_redis=True)[0]
        == "Redis"
    )
    kw: dict[str, Any] = {"max_concurrency": None, "memory_budget": 0, "uses_redis": False}
    step = Step(load=1, passed=False, figures={"cpu_cores": 0.9, "loop_lag_max": 0.5})
    assert limiting_resource(step, **kw)[0] == "loop CPU"
    step = Step(load=1, passed=False, figures={"cpu_cores": 0.1, "loop_lag_max": 0.5})
    assert limiting_resource(step, **kw)[0] == "loop CPU (starved by other processes)"
    step = Step(load=1, passed=False, figures={"cpu_cores": 0.13, "loop_lag_max": 0.01})
    assert limiting_resource(step, **kw)[0].startswith("none near its limit (loop CPU 13%)")


def test_plan_sizes_by_rate_or_memory_with_bounds() -> None:
    model = _model()
    knee_rate = model["knee"]["turns_per_s"]  # type: ignore[index]
    by_rate = plan(model, agents=1000, turns_per_s=knee_rate * 10, llm_p50_s=0.05)
    assert by_rate["nodes"]["value"] == 10
    assert by_rate["nodes_limited_by"] == "turn rate"
    assert by_rate["nodes"]["low"] <= 10 <= by_rate["nodes"]["high"]
    assert by_rate["llm_concurrency"]["value"] == pytest.approx(knee_rate * 10 * 1.5 * 0.05)
    # 1M live agents at 50 kB need ~50 GB: memory decides with 8 GiB nodes (80 % used)
    by_memory = plan(model, agents=1_000_000, turns_per_s=10, llm_p50_s=1.2)
    assert by_memory["nodes_limited_by"] == "memory"
    assert by_memory["memory_per_node"]["value"] <= 0.8 * 8 * 2**30
    assert by_memory["nodes"]["value"] == math.ceil(50_000 * 1_000_000 / (0.8 * 8 * 2**30 - 1e6))
    # passivated agents are cheaper
    mostly_passive = plan(model, agents=1_000_000, turns_per_s=10, llm_p50_s=1.2, live_fraction=0.1)
    assert mostly_passive["nodes"]["value"] < by_memory["nodes"]["value"]
    # a slower LLM needs more concurrency, and the provider limit caps each node's rate
    slow = plan(model, agents=1000, turns_per_s=knee_rate * 10, llm_p50_s=5.0)
    assert slow["llm_concurrency"]["value"] == pytest.approx(
        100 * by_rate["llm_concurrency"]["value"]
    )
    assert slow["nodes"]["value"] > by_rate["nodes"]["value"]


def test_plan_refuses_bad_input_naming_the_flag() -> None:
    model = _model()
    for kwargs, flag in [
        ({"agents": 0}, "--agents"),
        ({"turns_per_s": 0}, "--turns-per-s"),
        ({"llm_p50_s": -1}, "--llm-p50"),
        ({"live_fraction": 2}, "--live-fraction"),
    ]:
        args = {"agents": 10, "turns_per_s": 10.0, "llm_p50_s": 1.0, **kwargs}
        with pytest.raises(ConfigError) as info:
            plan(model, **args)  # type: ignore[arg-type]
        assert info.value.key == flag
    no_knee = _model(knee=1)  # the first step (100 agents) already fails
    with pytest.raises(ConfigError, match="no knee"):
        plan(no_knee, agents=10, turns_per_s=10, llm_p50_s=1)


def test_step_from_report_reads_the_steady_and_probe_blocks() -> None:
    report = {
        "passed": False,
        "elapsed_s": 12.0,
        "thresholds": [
            {"expr": "response_p95 < 2s", "ok": False},
            {"expr": "lost == 0", "ok": True},
        ],
        "figures": {"turns_answered": 1000, "llm_requests": 1500, "rss_peak": 9e7,
                    "response_p95": 2.5, "agents": 80, "memory_op_p99": 0.001},
        "steady": {"stable": True, "agents": 80, "turns_per_s": {"mean": 41.0, "ci": 1.0},
                   "cpu_cores": 0.5, "llm_waiting": 0.0, "loop_lag_max": 0.01},
        "passivation": {"base_rss": 5e7, "rss_passivated": 6e7, "bytes_per_passivated": 1.25e5},
    }  # fmt: skip
    step = step_from_report(80, report)
    assert not step.passed
    assert step.stable
    assert step.failed == ("response_p95 < 2s",)
    assert step.get("turns_per_s") == 41.0
    assert step.get("llm_calls_per_turn") == 1.5
    assert step.get("rss_above_base") == 4e7
    assert step.get("rss_passivated_above_base") == 1e7


# -- the steady-state rule ------------------------------------------------------------------


def _samples(rates: list[float], p95: float = 0.2, active: int = 100) -> list[Sample]:
    return [
        Sample(
            t=float(i + 1),
            active_agents=active if i else active // 2,  # the first one still ramping
            turns_per_s=rate,
            response_p50=p95 / 2,
            response_p95=p95,
            response_p99=p95 * 2,
            errors=0,
            rss_bytes=10**8,
            restarts=0,
            cache_hit_ratio=None,
            loop_lag=0.001,
        )
        for i, rate in enumerate(rates)
    ]


class _FakeRun:
    def __init__(self, samples: list[Sample], ramp_done_at: float | None = 2.5) -> None:
        self.series = Series(samples=samples)
        self.ramp_done_at = ramp_done_at
        self.elapsed = samples[-1].t if samples else 0.0
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_steady_samples_leave_out_the_ramp() -> None:
    samples = _samples([10, 50, 100, 100, 100])
    # t=1 is the first after the ramp: left out (it mixes ramp and steady state)
    assert [s.t for s in steady_samples(samples, ramp_done_at=0.5)] == [2.0, 3.0, 4.0, 5.0]
    assert [s.t for s in steady_samples(samples, ramp_done_at=1.5)] == [3.0, 4.0, 5.0]
    samples[3] = replace(samples[3], active_agents=50)  # retired users: not steady
    assert [s.t for s in steady_samples(samples, ramp_done_at=1.5)] == [3.0, 5.0]
    assert steady_samples(samples, ramp_done_at=None) == []


def test_watch_stops_a_stable_run_and_not_a_noisy_one() -> None:
    stable = _FakeRun(_samples([0, 0, 100, 101, 99, 100, 100, 101, 99]))
    watch = SteadyWatch(tolerance=0.05, min_s=3.0)
    watch(stable)  # type: ignore[arg-type]
    assert stable.stopped
    assert watch.stopped_early
    noisy = _FakeRun(_samples([0, 0, 20, 180, 40, 160, 10, 190, 30]))
    watch = SteadyWatch(tolerance=0.05, min_s=3.0)
    watch(noisy)  # type: ignore[arg-type]
    assert not noisy.stopped
    early = _FakeRun(_samples([0, 0, 100, 101, 99, 100, 100, 101, 99]))
    watch = SteadyWatch(tolerance=0.05, min_s=60.0)  # before min_s: never
    watch(early)  # type: ignore[arg-type]
    assert not early.stopped
    measuring = SteadyWatch(tolerance=None)  # no tolerance: measures only
    measuring(stable)  # type: ignore[arg-type]
    summary = measuring.summary(stable)  # type: ignore[arg-type]
    assert summary["samples"] == 6
    assert summary["turns_per_s"]["mean"] == pytest.approx(100)
    assert summary["response_p95"]["ci"] == pytest.approx(0)
    assert summary["stable"] is False  # no tolerance given: never called stable
