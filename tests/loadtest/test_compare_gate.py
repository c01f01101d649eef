"""``loadtest compare --fail-on PCT`` gates regressions; it warns when runs differ and
keeps run names whole; the live view shows unmeasured figures as pending; a scenario's
class is imported from next to the scenario file."""

from __future__ import annotations

import glob
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from support.loadtest_report import sample_report

from agentrt.cli import main
from agentrt.cli._loadtest import EXIT_THRESHOLDS, read_scenario
from agentrt.errors import ConfigError
from agentrt.loadtest._compare import GATES, compare_rows, differences, regressions
from agentrt.loadtest._engine import LoadRun, agent_class_of
from agentrt.loadtest._live import live_panel
from agentrt.loadtest._report import write_reports
from agentrt.loadtest._thresholds import METRICS


def _pair(tmp_path: Path, **changes: float) -> tuple[str, str]:
    a, b = sample_report(), sample_report()
    for figure in GATES:
        a["figures"].setdefault(figure, 1.0)
        b["figures"].setdefault(figure, 1.0)
    for figure, factor in changes.items():
        b["figures"][figure] = a["figures"][figure] * factor
    pa, pb = tmp_path / "smoke-20261207T101500Z.json", tmp_path / "smoke-20261207T111500Z.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    return str(pa), str(pb)


@pytest.mark.parametrize(
    ("figure", "factor"),
    [("response_p95", 1.2), ("turns_per_s", 0.8), ("bytes_per_agent", 1.3), ("cpu_per_turn", 1.5)],
)
def test_a_regression_beyond_the_gate_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], figure: str, factor: float
) -> None:
    a, b = _pair(tmp_path, **{figure: factor})
    assert main(["loadtest", "compare", a, b]) == 0  # no gate: a table, exit 0
    assert main(["loadtest", "compare", a, b, "--fail-on", "10"]) == EXIT_THRESHOLDS
    assert f"regression: {figure}" in capsys.readouterr().out
    assert main(["loadtest", "compare", a, b, "--fail-on", "60"]) == 0


def test_an_improvement_never_trips_the_gate(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, response_p95=0.5, turns_per_s=2.0, cpu_per_turn=0.1)
    assert main(["loadtest", "compare", a, b, "--fail-on", "1"]) == 0
    report_a, report_b = json.loads(Path(a).read_text()), json.loads(Path(b).read_text())
    assert regressions(compare_rows(report_a, report_b), 1) == []


def test_gated_figures_are_report_figures() -> None:
    assert set(GATES) <= set(METRICS)


def test_differences_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = sample_report(), sample_report()
    assert differences(a, b) == []
    b["scenario"]["name"] = "chaos"
    b["elapsed_s"] = a["elapsed_s"] * 3
    warnings = differences(a, b)
    assert any("different scenarios" in w for w in warnings)
    assert any("different durations" in w for w in warnings)
    b = sample_report()
    a["scenario"]["settings"] = {"seed": 7, "agents": {"count": 100}}
    b["scenario"]["settings"] = {"seed": 12345, "agents": {"count": 100}}
    assert differences(a, b) == ["different settings: seed"]
    b["scenario"]["settings"] = {"seed": 7, "agents": {"count": 50}}
    assert differences(a, b) == ["different settings: agents.count"]
    b["scenario"]["settings"] = {"seed": 12345, "agents": {"count": 100}}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main(["loadtest", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    assert "warning: different settings: seed" in capsys.readouterr().out


def test_run_names_are_not_truncated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    a, b = _pair(tmp_path)
    main(["loadtest", "compare", a, b])
    out = capsys.readouterr().out
    assert Path(a).stem in out
    assert Path(b).stem in out


def test_the_live_view_shows_unmeasured_figures_as_pending(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('thresholds = ["response_p95 < 2s"]\n[agents]\ncount = 1\nturns = 1\n')
    run = LoadRun(read_scenario(str(path)))  # not started: nothing measured
    console = Console(file=io.StringIO(), width=100)
    console.print(live_panel(run))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "pending" in text
    assert "✗" not in text


def test_a_class_next_to_the_scenario_is_imported(tmp_path: Path) -> None:
    (tmp_path / "mymod_scenario_13.py").write_text(
        "from agentrt.agent import Agent\n\nclass Mine(Agent):\n    pass\n"
    )
    path = tmp_path / "s.toml"
    path.write_text('[agents]\nclass = "mymod_scenario_13:Mine"\ncount = 1\nturns = 1\n')
    before = list(sys.path)
    cls: Any = agent_class_of(read_scenario(str(path)))
    assert cls.__name__ == "Mine"
    assert sys.path == before  # the folder was on the path for that import only
    path.write_text('[agents]\nclass = "no_such_mod_13:Mine"\ncount = 1\nturns = 1\n')
    with pytest.raises(ConfigError, match="looked next to the scenario too"):
        read_scenario(str(path))


def test_the_readme_compare_example_matches_the_files_runs_write(tmp_path: Path) -> None:
    # issue 13 §9: the README's example named files that runs never produce
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if x.startswith("agentrt loadtest compare "))
    patterns = re.findall(r"\S+\.json", line)
    assert len(patterns) == 2
    for pattern in patterns:
        folder, _, name_glob = pattern.rpartition("/")
        report = sample_report()
        report["scenario"]["name"] = name_glob.split("-")[0]
        json_path, _ = write_reports(report, tmp_path / folder)
        assert glob.glob(str(tmp_path / pattern)) == [str(json_path)]
    before, after = (str(tmp_path / p) for p in patterns)
    assert main(["loadtest", "compare", *glob.glob(before), *glob.glob(after)]) == 0
