"""``agentrt capacity`` (search, plan, check), ``loadtest ab`` and ``loadtest compare`` on
an A/B result: clear errors for bad input, and one tiny real run of each command against
the mock LLM (each step or round its own process). Verdicts that depend on timing are
never asserted: only that the commands ran and wrote what they promise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.loadtest_report import sample_report

from agentrt.cli import main
from agentrt.cli._capacity import _Stepper, search_parser
from agentrt.cli._loadtest import EXIT_BAD_INPUT, EXIT_THRESHOLDS, read_scenario
from agentrt.loadtest._ab import AB_SCHEMA, ab_result
from agentrt.loadtest._capacity import CAPACITY_SCHEMA, Step, fit_model, search

SETS = ["agents.spawn_rate=1000", 'think_time.mean="50ms"']
TINY = [flag for item in SETS for flag in ("--set", item)]


def _saved(tmp_path: Path) -> Path:
    """A capacity result of a synthetic search (knee at 300 agents) on the smoke scenario."""

    def measure(load: float) -> Step:
        return Step(
            load=load,
            passed=load <= 300,
            figures={
                "agents": load,
                "turns_per_s": 3 * load,
                "response_p95": 0.1,
                "cpu_cores": 0.001 * 3 * load,
                "rss_above_base": 40_000 * load,
                "rss_peak": 6e7 + 40_000 * load,
                "llm_calls_per_turn": 1.5,
            },
        )

    steps = search(measure, start=20, max_load=10_000, max_steps=8)
    model = fit_model(
        steps, axis="agents", llm_latency_s=0.05, max_concurrency=1024, memory_budget=2**33
    )
    result = {
        "schema": CAPACITY_SCHEMA,
        "scenario": {"name": "smoke", "source": "smoke"},
        "settings": {
            "axis": "agents",
            "factor": 2.0,
            "precision": 10.0,
            "max_steps": 8,
            "tolerance": 10.0,
            "min_step": 1.0,
            "max_step": 2.0,
            "p95": 2.0,
            "overlay": None,
            "set": SETS,
        },
        "steps": [{"load": s.load, "passed": s.passed, "figures": dict(s.figures)} for s in steps],
        "model": model,
    }
    path = tmp_path / "capacity-smoke-saved.json"
    path.write_text(json.dumps(result))
    return path


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["capacity", "smoke", "--min-step", "9s", "--max-step", "2s"], "--min-step"),
        (["capacity", "smoke", "--start", "50", "--max", "10"], "--max"),
        (["capacity", "no_such_scenario"], "no_such_scenario"),
        (["capacity", "smoke", "--set", "agents.count=-3"], "count"),
        (["capacity", "plan", "--agents", "5", "--turns-per-s", "1", "--llm-p50", "1s",
          "--from", "/nonexistent.json"], "no such file"),
    ],
)  # fmt: skip
def test_capacity_bad_input_exits_2_naming_it(
    argv: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_BAD_INPUT
    assert text in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["capacity", "smoke", "--precision", "abc"], "--precision"),
        (["capacity", "smoke", "--p95", "-2s"], "--p95"),
        (["capacity", "plan", "--turns-per-s", "1", "--llm-p50", "1s"], "--agents"),
        (["capacity", "plan", "--agents", "5", "--turns-per-s", "1", "--llm-p50", "soon"],
         "--llm-p50"),
        (["capacity", "plan", "--agents", "0", "--turns-per-s", "1", "--llm-p50", "1s"],
         "--agents"),
        (["loadtest", "ab", "smoke", "--rounds", "0"], "--rounds"),
        (["loadtest", "compare", "a.json", "b.json", "--fail-on", "ten"], "--fail-on"),
    ],
)  # fmt: skip
def test_flag_errors_are_argparse_errors(
    argv: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert text in capsys.readouterr().err


def test_plan_from_a_saved_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = _saved(tmp_path)
    argv = ["capacity", "plan", "--agents", "50000", "--turns-per-s", "800", "--llm-p50", "1.2s"]
    assert main([*argv, "--from", str(saved), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    knee_rate = json.loads(saved.read_text())["model"]["knee"]["turns_per_s"]
    assert answer["nodes"]["value"] >= 800 / knee_rate
    assert answer["llm_concurrency"]["value"] == pytest.approx(800 * 1.5 * 1.2)
    assert main([*argv, "--from", str(saved)]) == 0
    assert "nodes (limited by" in capsys.readouterr().out
    report = tmp_path / "report.json"
    report.write_text(json.dumps(sample_report()))
    assert main([*argv, "--from", str(report)]) == EXIT_BAD_INPUT
    assert "not an agentrt capacity result" in capsys.readouterr().out


def test_capacity_search_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["capacity", "smoke", "--start", "10", "--max", "20", "--max-steps", "2"]
    argv += ["--min-step", "1s", "--max-step", "2s", "--out", str(tmp_path), *TINY]
    code = main(argv)
    out = capsys.readouterr().out
    assert code in (0, EXIT_THRESHOLDS), out
    (saved,) = tmp_path.glob("capacity-smoke-*.json")
    result = json.loads(saved.read_text())
    assert result["schema"] == CAPACITY_SCHEMA
    assert [s["load"] for s in result["steps"]][:1] == [10.0]
    for step in result["steps"]:
        assert step["figures"]["turns_per_s"] > 0
        assert step["figures"]["rss_above_base"] is not None
    assert "Capacity model" in out
    html = saved.with_suffix(".html").read_text()
    assert "<svg" in html
    assert "Latency vs load" in html
    assert "turns/s" in html


def test_capacity_search_on_the_turns_axis_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real search over offered turns/s, one 1 s step (the search's doubling runs end to
    end on the agents axis above; the flags of any rate, in
    test_turns_axis_sets_the_think_time_for_the_offered_rate): the scenario's agents stay
    as they are (20) and the step's think time is ``agents / load`` (1 s at 20 turns/s)."""
    argv = ["capacity", "smoke", "--axis", "turns", "--start", "20", "--max", "40"]
    argv += ["--max-steps", "1", "--min-step", "1s", "--max-step", "1s", "--out", str(tmp_path)]
    argv += ["--set", "agents.count=20", "--set", "agents.spawn_rate=1000", "--json"]
    argv += ["--set", 'thresholds=["lost == 0"]']  # smoke's cache-hit ratio needs more turns
    code = main(argv)
    captured = capsys.readouterr()
    assert code in (0, EXIT_THRESHOLDS), captured.err
    printed = json.loads(captured.out)
    (saved,) = tmp_path.glob("capacity-smoke-*.json")
    result = json.loads(saved.read_text())
    assert printed["steps"] == result["steps"]
    assert result["schema"] == CAPACITY_SCHEMA
    assert result["settings"]["axis"] == "turns"
    steps = result["steps"]
    assert [s["load"] for s in steps] == [20.0]
    for step in steps:
        assert step["figures"]["agents"] == 20  # the load is the rate, not the agents
        assert step["figures"]["turns_per_s"] > 0
    think = []
    for report in sorted(tmp_path.glob("capacity-*/steps/*/*.json")):
        settings = json.loads(report.read_text())["scenario"]["settings"]
        assert settings["agents"]["count"] == 20
        think.append(settings["think_time"]["mean"])
    assert think == [20 / s["load"] for s in steps]
    assert "model" in result


def test_capacity_check_runs_an_unsearched_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _saved(tmp_path)
    assert main(["capacity", "check", str(saved), "--agents", "15", "--json"]) == 0
    validation = json.loads(capsys.readouterr().out)
    assert validation["agents"] == 15
    figures = validation["figures"]
    assert figures["rss_above_base"]["predicted"] == pytest.approx(40_000 * 15, rel=1e-6)
    assert figures["turns_per_s"]["measured"] > 0
    assert figures["turns_per_s"]["error"] is not None


def _ab_file(tmp_path: Path, values_b: dict[str, list[Any]]) -> Path:
    values_a = {"response_p95": [0.1, 0.2, 0.15, 0.12], "turns_per_s": [50.0, 52.0, 49.0, 51.0]}
    result = ab_result(
        scenario="smoke",
        a=None,
        b="b.toml",
        order=["a", "b"] * 4,
        values={"a": values_a, "b": values_b},
        fail_on=None,
    )
    path = tmp_path / "ab-smoke.json"
    path.write_text(json.dumps(result))
    return path


def test_compare_judges_an_ab_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    worse = _ab_file(
        tmp_path,
        {"response_p95": [0.13, 0.26, 0.195, 0.156], "turns_per_s": [50.0, 52.0, 49.0, 51.0]},
    )
    assert main(["loadtest", "compare", str(worse)]) == 0  # no gate
    assert main(["loadtest", "compare", str(worse), "--fail-on", "10%"]) == EXIT_THRESHOLDS
    assert "regression: response_p95" in capsys.readouterr().out
    assert main(["loadtest", "compare", str(worse), "--fail-on", "40"]) == 0
    report = tmp_path / "one.json"
    report.write_text(json.dumps(sample_report()))
    assert main(["loadtest", "compare", str(report)]) == EXIT_BAD_INPUT
    assert "give NEW too" in capsys.readouterr().out


def test_ab_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = tmp_path / "b.toml"
    b.write_text('[runtime]\ngc = "python"\nmalloc_trim = false\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[runtime]\ngc = "sometimes"\n')
    assert main(["loadtest", "ab", "smoke", "--b", str(bad), "--out", str(tmp_path)]) == 2
    assert "gc" in capsys.readouterr().out
    # a time budget shorter than one pair: the first pair runs (always), no second one
    argv = ["loadtest", "ab", "smoke", "--b", str(b), "--rounds", "3", "--round-time", "1s"]
    argv += ["--agents", "10", "--time-budget", "1s", "--fail-on", "10%"]
    argv += ["--out", str(tmp_path), "--json"]
    assert main(argv) == 0  # one round: never significant, never a regression
    captured = capsys.readouterr()
    assert "time budget 1 s: 1 of 3 rounds run" in captured.err
    result = json.loads(captured.out)
    assert result["schema"] == AB_SCHEMA
    assert result["order"] == ["a", "b"]
    assert len(result["values"]["a"]["turns_per_s"]) == 1
    assert len(result["values"]["b"]["turns_per_s"]) == 1
    assert {r["figure"] for r in result["ratios"]} >= {"response_p95", "turns_per_s"}
    (written,) = tmp_path.glob("ab-smoke-*.json")
    assert json.loads(written.read_text())["ratios"] == result["ratios"]
    bad_budget = ["loadtest", "ab", "smoke", "--time-budget", "soon", "--out", str(tmp_path)]
    assert main(bad_budget) == EXIT_BAD_INPUT
    assert "--time-budget" in capsys.readouterr().out


def test_turns_axis_sets_the_think_time_for_the_offered_rate(tmp_path: Path) -> None:
    args = search_parser().parse_args(["smoke", "--axis", "turns"])
    stepper = _Stepper(args, read_scenario("smoke"), tmp_path)
    flags = stepper.load_flags(400.0)  # smoke: 100 agents -> 0.25 s think time
    assert flags[:2] == ["--set", "think_time.mean=0.25"]
    assert flags[2:] == ["--set", "think_time.max=2.5"]
    args = search_parser().parse_args(["smoke"])
    assert _Stepper(args, read_scenario("smoke"), tmp_path).load_flags(40.0) == ["--agents", "40"]
