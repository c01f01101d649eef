"""The alert_slowdown scenario (issue 19 §4) end to end through the CLI: an injected LLM
slowdown fires the response p95 alert and the alert clears after it. The mock LLM runs
in its own process; the verdict is the alert's transitions, with margins of seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentrt.cli import main
from agentrt.errors import ConfigError
from agentrt.loadtest import load_scenario


def test_an_injected_slowdown_fires_an_alert_that_clears(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["loadtest", "run", "alert_slowdown", "--no-live", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    [path] = tmp_path.glob("*.json")
    report = json.loads(path.read_text())
    assert code == 0, out
    assert report["passed"], report["thresholds"]
    kinds = [e["kind"] for e in report["events"]]
    assert kinds.index("llm_slow") < kinds.index("llm_normal")
    transitions = [(a["name"], a["state"]) for a in report["alerts"]["recent"]]
    assert ("response_p95_s", "firing") in transitions
    assert transitions[-1] == ("response_p95_s", "cleared")
    assert report["alerts"]["active"] == []
    assert report["figures"]["alerts_fired"] >= 1


def _scenario(tmp_path: Path, faults: str, llm: str = "") -> Path:
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n[agents]\ncount = 1\nturns = 1\n' + llm + faults)
    return path


def test_slowdown_windows_are_validated(tmp_path: Path) -> None:
    two = (
        '[[faults.llm_slowdown]]\nstart = "1s"\nduration = "2s"\nlatency = "1s"\n'
        '[[faults.llm_slowdown]]\nstart = "2s"\nduration = "2s"\nlatency = "1s"\n'
    )
    with pytest.raises(ConfigError, match="slowdown windows overlap"):
        load_scenario(_scenario(tmp_path, two))
    one = '[[faults.llm_slowdown]]\nstart = "1s"\nduration = "0s"\nlatency = "1s"\n'
    with pytest.raises(ConfigError, match="duration"):
        load_scenario(_scenario(tmp_path, one))
    ok = '[[faults.llm_slowdown]]\nstart = "1s"\nduration = "1s"\nlatency = "1s"\n'
    external = '[llm]\nkind = "external"\nurl = "http://127.0.0.1:1/v1"\n'
    with pytest.raises(ConfigError, match="needs the mock LLM"):
        load_scenario(_scenario(tmp_path, ok, external))
