"""``agentrt capacity SCENARIO --axis both`` and ``agentrt capacity check --nodes 2`` in
their short forms: real runs (each step its own process; the 2-node check a real cluster
of two ``agentrt node`` processes, its load generator and its redis-server on loopback),
nothing about their timing asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrt.cli import main
from agentrt.cli._capacity import _levels
from agentrt.cli._loadtest import EXIT_BAD_INPUT, EXIT_THRESHOLDS
from agentrt.loadtest._capacity import CAPACITY_SCHEMA
from agentrt.loadtest._capacity_predict import fair_share

CLUSTER = str(Path(__file__).parents[2] / "loadtest" / "capacity" / "cluster.toml")


def _saved_cluster_run(tmp_path: Path, source: str = CLUSTER) -> Path:
    """A one-node capacity result of the cluster scenario, 2 s runs (knee: 4 agents)."""
    knee = {"load": 4.0, "agents": 4.0, "turns_per_s": 10.0, "cpu_cores": 0.2,
            "node_cpu_cores": 0.1, "response_p95": 0.1}  # fmt: skip
    result = {
        "schema": CAPACITY_SCHEMA,
        "scenario": {"name": "cluster_capacity", "source": source},
        "settings": {
            "axis": "agents",
            "factor": 2.0,
            "precision": 10.0,
            "max_steps": 4,
            "tolerance": 10.0,
            "min_step": 1.0,
            "max_step": 2.0,
            "p95": 2.0,
            "overlay": None,
            "set": ['agents.duration="2s"'],
        },
        "steps": [{"load": 4.0, "passed": True, "figures": knee}],
        "model": {"axis": "agents", "knee": knee, "first_failure": None, "fits": {}},
    }
    path = tmp_path / "capacity-cluster_capacity-saved.json"
    path.write_text(json.dumps(result))
    return path


def test_check_nodes_runs_two_nodes_at_twice_the_knee(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _saved_cluster_run(tmp_path)
    assert main(["capacity", "check", str(saved), "--nodes", "2", "--cores", "2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["nodes"] == 2
    # 20 ms of CPU per turn; the search got 0.2 of 2 cores with its 3 processes: as if
    # 27 other processes were busy, so 2 nodes (4 processes) get 2 * 4 / 31 cores
    assert got["cpu_per_turn_s"] == pytest.approx(0.02)
    assert got["others"] == pytest.approx(27)
    assert got["cores_share"] == pytest.approx(fair_share(2, 4, 27))
    assert got["linear"] == pytest.approx(20)
    assert got["turns_per_s"] == pytest.approx(min(20, fair_share(2, 4, 27) / 0.02))
    assert got["limited_by"] == "CPU share"
    # 2 x the knee's agents, scaled to the share: the run is made at the predicted capacity
    assert got["agents"] == round(8 * got["turns_per_s"] / 20)
    measured = got["measured"]
    assert measured["turns_per_s"] > 0
    assert measured["cpu_cores"] > 0  # the nodes', generator's and redis-server's CPU
    assert measured["node_cpu_cores"] > 0
    rate = measured["turns_per_s"]
    assert got["error"] == pytest.approx(abs(got["turns_per_s"] - rate) / rate)
    assert got["share_prediction"] == pytest.approx(measured["cpu_cores"] / 0.02)
    reports = list(tmp_path.glob("check-*/steps/*/*.json"))
    assert len(reports) == 1
    settings = json.loads(reports[0].read_text())["scenario"]["settings"]
    assert settings["cluster"]["nodes"] == 2
    assert settings["agents"]["count"] == got["agents"]


def test_check_nodes_refuses_a_scenario_without_a_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = _saved_cluster_run(tmp_path, source="smoke")
    assert main(["capacity", "check", str(saved), "--nodes", "2"]) == EXIT_BAD_INPUT
    assert "cluster" in capsys.readouterr().out


def test_levels_of_the_both_axis() -> None:
    assert _levels(25, 100, 2) == [25, 50, 100]
    assert _levels(10, 25, 2) == [10, 20, 25]
    assert _levels(10, 10, 2) == [10]


def test_capacity_search_on_both_axes_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two agents levels (10, 20), one offered rate each (20 turns/s): the think time is
    ``agents / rate`` at each level."""
    argv = ["capacity", "smoke", "--axis", "both", "--start", "10", "--max", "20"]
    argv += ["--rate-start", "20", "--max-steps", "1", "--min-step", "1s", "--max-step", "1s"]
    argv += ["--out", str(tmp_path), "--set", "agents.spawn_rate=1000"]
    argv += ["--set", 'thresholds=["lost == 0"]']
    code = main(argv)
    out = capsys.readouterr().out
    assert code in (0, EXIT_THRESHOLDS), out
    (saved,) = tmp_path.glob("capacity-smoke-*.json")
    result = json.loads(saved.read_text())
    assert result["settings"]["axis"] == "both"
    steps = result["steps"]
    assert [s["level"] for s in steps] in ([10.0], [10.0, 20.0])
    assert {s["load"] for s in steps} == {20.0}
    frontier = result["model"]["frontier"]
    assert [row["agents"] for row in frontier] == [s["level"] for s in steps]
    think = []
    for report in sorted(tmp_path.glob("capacity-*/steps/*/*.json")):
        settings = json.loads(report.read_text())["scenario"]["settings"]
        think.append((settings["agents"]["count"], settings["think_time"]["mean"]))
    assert think == [(int(s["level"]), s["level"] / 20) for s in steps]


def test_both_axis_rejects_a_bad_rate_range(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["capacity", "smoke", "--axis", "both", "--rate-start", "50", "--rate-max", "10"]
    assert main(argv) == EXIT_BAD_INPUT
    assert "--rate-max" in capsys.readouterr().out
