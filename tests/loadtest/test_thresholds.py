"""k6-style thresholds: parsing, units, operators, evaluation."""

from __future__ import annotations

import pytest

from agentrt.errors import ConfigError
from agentrt.loadtest import Threshold
from agentrt.loadtest._thresholds import METRICS, evaluate


@pytest.mark.parametrize(
    ("expr", "metric", "op", "limit"),
    [
        ("response_p95 < 2s", "response_p95", "<", 2.0),
        ("memory_op_p99<100ms", "memory_op_p99", "<", 0.1),
        ("bytes_per_agent < 100MB", "bytes_per_agent", "<", 100 * 2**20),
        ("error_rate < 0.1%", "error_rate", "<", 0.001),
        ("error_rate <= 0.01", "error_rate", "<=", 0.01),
        ("lost == 0", "lost", "==", 0.0),
        ("turns_per_s >= 50", "turns_per_s", ">=", 50.0),
        ("cache_hit_ratio > 90%", "cache_hit_ratio", ">", 0.9),
        ("restarts != 3", "restarts", "!=", 3.0),
        ("turns_failed[model-c] == 0", "turns_failed[model-c]", "==", 0.0),
        (
            "turns_failed_unexcused[gpt-4o/mini] <= 2",
            "turns_failed_unexcused[gpt-4o/mini]",
            "<=",
            2,
        ),
    ],
)
def test_parse(expr: str, metric: str, op: str, limit: float) -> None:
    t = Threshold.parse(expr)
    assert (t.metric, t.op) == (metric, op)
    assert t.limit == pytest.approx(limit)


@pytest.mark.parametrize(
    ("expr", "value", "ok"),
    [
        ("response_p95 < 2s", 1.999, True),
        ("response_p95 < 2s", 2.0, False),
        ("response_p95 <= 2s", 2.0, True),
        ("lost == 0", 0, True),
        ("lost == 0", 1, False),
        ("turns_per_s > 10", 10.5, True),
        ("turns_per_s > 10", 9, False),
        ("restarts != 0", 0, False),
        ("error_rate < 0.1%", 0.0009, True),
        ("error_rate < 0.1%", 0.0011, False),
    ],
)
def test_check(expr: str, value: float, ok: bool) -> None:
    assert Threshold.parse(expr).check(value) is ok


def test_unmeasured_figure_fails() -> None:
    rules = (Threshold.parse("response_p95 < 2s"), Threshold.parse("lost == 0"))
    results = evaluate(rules, {"lost": 0})
    assert [r.ok for r in results] == [False, True]
    assert results[0].value is None
    assert results[0].as_dict()["expr"] == "response_p95 < 2s"


def test_abort_settings_carried() -> None:
    t = Threshold.parse("lost == 0", abort_on_fail=True, delay_abort_eval=5.0)
    assert t.abort_on_fail
    assert t.delay_abort_eval == 5.0
    assert evaluate((t,), {"lost": 2})[0].as_dict()["abort_on_fail"] is True


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("p95 < 2s", "unknown metric 'p95'"),
        ("response_p95 2s", "expected '<metric> <op> <value>'"),
        ("response_p95 < fast", "cannot read 'fast'"),
        ("bytes_per_agent < 100 parsecs", "unknown size unit"),
        ("lost == 0ms", "expected a plain number"),
        ("lost[model-c] == 0", "'lost' is not measured per model"),
        ("turns_failed[] == 0", "expected '<metric> <op> <value>'"),
    ],
)
def test_bad_expressions(expr: str, words: str) -> None:
    with pytest.raises(ConfigError, match="thresholds\\[3\\]") as info:
        Threshold.parse(expr, key="thresholds[3]")
    assert words in str(info.value)


def test_every_metric_has_a_known_unit() -> None:
    assert {m.unit for m in METRICS.values()} <= {"s", "B", "ratio", "count", "1/s", "$"}


def test_every_run_checks_that_no_supervisor_went_down() -> None:
    from agentrt.loadtest._thresholds import BUILTIN_THRESHOLDS, run_thresholds

    own = (Threshold.parse("lost == 0"),)
    rules = run_thresholds(own)
    assert rules == own + BUILTIN_THRESHOLDS
    assert [t.expr for t in rules] == ["lost == 0", "supervisor_shutdowns == 0"]
    ok, down = (evaluate(rules, {"lost": 0, "supervisor_shutdowns": n}) for n in (0, 1))
    assert [r.ok for r in ok] == [True, True]
    assert [r.ok for r in down] == [True, False]
    assert down[1].as_dict()["builtin"] is True


def test_a_scenario_stating_the_builtin_rule_gets_it_once() -> None:
    from agentrt.loadtest._thresholds import run_thresholds

    own = (Threshold.parse("supervisor_shutdowns == 0"),)
    assert run_thresholds(own) == own
