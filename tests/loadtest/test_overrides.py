"""Command-line overrides replace what a scenario sets: every flag against every shipped
scenario (validated), one real short run; bad --out, names that escape it, [agents]
required, and the resource estimate that refuses what cannot fit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrt.cli import main
from agentrt.cli._loadtest import EXIT_BAD_INPUT, EXIT_THRESHOLDS, read_scenario
from agentrt.errors import ConfigError
from agentrt.loadtest._environment import base_runtime_config
from agentrt.loadtest._overrides import Overrides
from agentrt.loadtest._resources import Machine, check_fits
from agentrt.loadtest._scenario import load_scenario

SHIPPED = ("smoke", "swarm_1k", "swarm_10k", "chaos", "soak")
FLAGS = {
    "--agents": (["--agents", "20"], Overrides(agents=20)),
    "--duration": (["--duration", "3s"], Overrides(duration=3.0)),
    "--turns": (["--turns", "2"], Overrides(turns=2)),
    "--seed": (["--seed", "99"], Overrides(seed=99)),
    "all": (["--agents", "20", "--duration", "3s", "--seed", "5"], None),
}


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_every_flag_validates_on_every_shipped_scenario(
    name: str, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, overrides = FLAGS[flag]
    assert main(["loadtest", "validate", name, *argv]) == 0, capsys.readouterr().out
    scenario = read_scenario(name, overrides or Overrides(agents=20, duration=3.0, seed=5))
    agents = scenario.agents
    if overrides is None or overrides.agents is not None:
        assert agents.count == 20
        assert all(s.target <= 20 for s in agents.stages)
    if overrides is None or overrides.duration is not None:
        assert scenario.planned_duration == pytest.approx(3.0)
        assert agents.turns is None
    if overrides is not None and overrides.turns is not None:
        assert (agents.turns, agents.duration, agents.stages) == (2, None, ())
        assert scenario.planned_duration is None
    if overrides is not None and overrides.seed is not None:
        assert scenario.seed == 99


def test_the_documented_swarm_1k_override_keeps_the_ramp_shape() -> None:
    scenario = read_scenario("swarm_1k", Overrides(agents=200, duration=20.0))
    stages = scenario.agents.stages
    assert [s.target for s in stages] == [200, 200, 0]
    assert [round(float(s.duration), 2) for s in stages] == [3.64, 14.55, 1.82]


def test_turns_and_duration_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", "validate", "smoke", "--turns", "2", "--duration", "2s"]) == 2
    assert "--turns" in capsys.readouterr().out
    assert main(["loadtest", "validate", "smoke", "--duration", "nan"]) == 2
    with pytest.raises(SystemExit):
        main(["loadtest", "validate", "smoke", "--agents", "100000000000"])


def test_a_real_short_run_with_overrides(tmp_path: Path) -> None:
    argv = ["smoke", "--agents", "4", "--turns", "2", "--seed", "3", "--no-live"]
    code = main(["loadtest", "run", *argv, "--out", str(tmp_path)])
    [path] = tmp_path.glob("smoke-*.json")
    report = json.loads(path.read_text())
    failed = {t["expr"] for t in report["thresholds"] if not t["ok"]}
    assert failed <= {"cache_hit_ratio > 0.5"}  # 8 turns are too few to warm a cache
    assert code == (0 if not failed else EXIT_THRESHOLDS)
    settings = report["scenario"]["settings"]
    assert (settings["agents"]["count"], settings["agents"]["turns"]) == (4, 2)
    assert settings["seed"] == 3
    assert report["figures"]["turns_sent"] == 8


def test_a_bad_out_fails_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    code = main(["loadtest", "run", "smoke", "--no-live", "--out", str(not_a_folder)])
    assert code == EXIT_BAD_INPUT
    out = capsys.readouterr().out
    assert "'--out'" in out
    assert "running" not in out  # refused before the run started
    assert not_a_folder.read_text() == "x"


@pytest.mark.parametrize("name", ["/tmp/x", "../../x", "a/b", ".hidden", ""])
def test_scenario_names_cannot_escape_out(tmp_path: Path, name: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f'name = "{name}"\n[agents]\ncount = 1\nturns = 1\n')
    with pytest.raises(ConfigError, match="not a plain name"):
        read_scenario(str(path))


def test_the_agents_table_is_required(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n[think_time]\nmean = "1s"\n')
    with pytest.raises(ConfigError, match=r"\[agents\] table is required"):
        read_scenario(str(path))


def test_the_estimate_refuses_what_cannot_fit() -> None:
    scenario = read_scenario("smoke")
    roomy = Machine(memory_bytes=2**40, fds=100_000, ports=28_000)
    assert check_fits(scenario, roomy).fds == 164
    with pytest.raises(ConfigError, match=r"agents.count.*100 agents need about 262 MiB"):
        check_fits(scenario, Machine(memory_bytes=100 * 2**20, fds=None, ports=None))
    with pytest.raises(ConfigError, match=r"llm.max_concurrency.*ulimit -n"):
        check_fits(scenario, Machine(memory_bytes=None, fds=100, ports=None))
    with pytest.raises(ConfigError, match=r"llm.max_concurrency.*ephemeral"):
        check_fits(scenario, Machine(memory_bytes=None, fds=None, ports=50))


def test_an_absurd_count_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[agents]\ncount = 100000000000\nturns = 1\n")
    with pytest.raises(ConfigError, match=r"agents.count.*within 1..10,000,000.*s.toml:2"):
        read_scenario(str(path))
    path.write_text("[agents]\ncount = 9000000\nturns = 1\n")  # in bounds, not in memory
    with pytest.raises(ConfigError, match="9,000,000 agents need about"):
        check_fits(load_scenario(path), Machine(memory_bytes=2**30, fds=None, ports=None))


def test_the_runtime_config_file_is_relative_to_the_scenario_and_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "agentrt.toml").write_text("[agents]\nmax_restarts = 42\n")
    path = folder / "s.toml"
    path.write_text('[agents]\ncount = 1\nturns = 1\n[runtime]\nconfig = "agentrt.toml"\n')
    monkeypatch.chdir(tmp_path)  # not the scenario's folder
    scenario = read_scenario(str(path))
    assert base_runtime_config(scenario).agents.max_restarts == 42
    (folder / "agentrt.toml").write_text("[agents]\nmax_restarts = nan\n")
    with pytest.raises(ConfigError, match=r"agents\.max_restarts"):
        read_scenario(str(path))  # validate refuses it, not only the run
