"""Load runs end to end: the shipped smoke scenario through the CLI, the chaos scenario's
accounting through a short Redis outage, threshold failures and aborts, ramps down.

These start the real mock LLM server in its own process and (chaos) a redis-server of
their own; nothing here asserts a timing figure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from support.loadtest_report import sample_report

from agentrt.cli import main
from agentrt.cli._loadtest import EXIT_BAD_INPUT, EXIT_THRESHOLDS, read_scenario
from agentrt.loadtest import run_scenario
from agentrt.loadtest._engine import LoadRun
from agentrt.loadtest._html import REPORT_SCRIPT_ID
from agentrt.loadtest._live import live_panel

TINY = """
name = "tiny"
turn_timeout = "10s"
thresholds = {thresholds}
[agents]
count = 5
{length}
[think_time]
mean = "20ms"
[llm.mock]
latency = "10ms"
"""


def tiny(tmp_path: Path, thresholds: str, length: str = "turns = 3") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY.format(thresholds=thresholds, length=length))
    return path


def only_report(folder: Path) -> dict[str, Any]:
    [path] = folder.glob("*.json")
    report: dict[str, Any] = json.loads(path.read_text())
    return report


def test_smoke_scenario_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the shipped scenario as it is, but 5 s long (its 10 s add turns, not coverage)
    argv = ["loadtest", "run", "smoke", "--no-live", "--duration", "5s", "--out", str(tmp_path)]
    code = main(argv)
    out = capsys.readouterr().out
    report = only_report(tmp_path)
    # The scenario's timing thresholds (response_p95 < 2s, ...) judge the machine as much
    # as the code: on a loaded one they may fail. Every other threshold must hold, and
    # the verdict must follow the thresholds.
    failed = [t for t in report["thresholds"] if not t["ok"]]
    timed = {"s", "1/s"}
    assert all(report["units"][t["metric"]] in timed for t in failed), out
    assert code == (EXIT_THRESHOLDS if failed else 0), out
    assert report["passed"] is not failed
    assert report["aborted"] is None
    account = report["accounting"]
    assert account["reconciled"]
    assert account["lost"] == 0
    assert account["sent"] == account["answered"] + account["failed"] > 0
    assert account["runtime"]["accepted"] == account["sent"]
    assert report["figures"]["agents"] == 100
    assert report["figures"]["cache_hit_ratio"] > 0.5
    assert {t["expr"] for t in report["thresholds"]} >= {"lost == 0", "response_p95 < 2s"}
    series = report["series"]
    # a series, not a point; how many samples a ~5 s run gets depends on how timely the
    # sampler's wake-ups were on this machine (it once got 8 at load average 16)
    assert len(series["t"]) >= 2
    assert series["t"] == sorted(series["t"])
    # all 100 spawned (figures above); how many were live at one sample depends on how
    # fast the machine ramped them against their conversations' end
    assert 0 < max(series["active_agents"]) <= 100
    assert all(len(column) == len(series["t"]) for column in series.values())
    assert "✓" in out
    assert ("FAILED" if failed else "PASSED") in out
    [html_path] = tmp_path.glob("*.html")
    html = html_path.read_text()
    match = re.search(
        rf'<script type="application/json" id="{REPORT_SCRIPT_ID}">(.*?)</script>', html, re.S
    )
    assert match is not None
    assert json.loads(match.group(1))["series"]["t"] == series["t"]
    assert html.count("<svg") >= 5


async def test_chaos_accounting_through_a_redis_outage() -> None:
    scenario = read_scenario(
        "chaos",
        {
            "turn_timeout": "10s",
            "agents": {"count": 40, "spawn_rate": 200, "duration": "4s"},
            "think_time": {"mean": "100ms"},
            "faults": {"crash_rate": 0.05, "redis_outage": [{"start": "1.5s", "duration": "1s"}]},
        },
    )
    report = (await run_scenario(scenario)).report
    account = report["accounting"]
    assert account["reconciled"], account
    assert account["lost"] == 0
    assert account["sent"] == account["answered"] + account["failed"]
    assert account["runtime"] == {
        "accepted": account["sent"],
        "answered": account["answered"],
        "failed": account["failed"],
        "cancelled": 0,
    }
    assert sum(account["failures"].values()) == account["failed"]
    events = report["events"]
    assert [e["kind"] for e in events if e["kind"].startswith("redis_")] == [
        "redis_down",
        "redis_up",
    ]
    # A machine slow enough to spawn during the outage sees spawns fail (and retried):
    # never outside the outage, and never anything else.
    down, up = (next(e["t"] for e in events if e["kind"] == k) for k in ("redis_down", "redis_up"))
    others = [e for e in events if not e["kind"].startswith("redis_")]
    # (a store call begun in the outage may fail just after Redis is back: its timeouts)
    assert all(e["kind"] == "spawn_failed" and down <= e["t"] <= up + 10 for e in others), others
    faults = report["faults"]
    assert faults["crashes_injected"] > 0
    assert report["figures"]["restarts"] >= faults["crashes_injected"]
    assert faults["llm_server"]["status_503"] > 0
    lost_rule = next(t for t in report["thresholds"] if t["expr"] == "lost == 0")
    assert lost_rule["ok"] is True


def test_failed_threshold_exits_99(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tiny(tmp_path, '["response_p95 < 1us", "lost == 0"]')
    code = main(["loadtest", "run", str(path), "--no-live", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == EXIT_THRESHOLDS == 99
    report = only_report(tmp_path / "out")
    assert report["passed"] is False
    assert [(t["ok"], t["builtin"]) for t in report["thresholds"]] == [
        (False, False),
        (True, False),
        (True, True),  # supervisor_shutdowns == 0, checked in every run
    ]
    assert "✗" in out
    assert "FAILED" in out


def test_abort_on_fail_stops_the_run(tmp_path: Path) -> None:
    rule = '[{ expr = "response_p95 < 1us", abort_on_fail = true, delay_abort_eval = "1s" }]'
    path = tiny(tmp_path, rule, 'duration = "60s"')
    code = main(["loadtest", "run", str(path), "--no-live", "--out", str(tmp_path)])
    report = only_report(tmp_path)
    assert code == EXIT_THRESHOLDS
    assert "abort_on_fail" in report["aborted"]
    assert [e["kind"] for e in report["events"]] == ["abort"]
    assert report["elapsed_s"] < 60  # it stopped at the failure, not at the end
    assert report["accounting"]["lost"] == 0


async def test_stages_ramp_up_and_down(tmp_path: Path) -> None:
    stages = "\n".join(
        f'[[agents.stages]]\nduration = "{d}"\ntarget = {n}'
        for d, n in (("1s", 5), ("1.5s", 5), ("1s", 0))
    )
    text = TINY.format(thresholds='["lost == 0"]', length="").replace(
        "[think_time]", stages + "\n[think_time]"
    )
    path = tmp_path / "stages.toml"
    path.write_text(text)
    console = Console(record=True, width=100)
    views: list[str] = []

    def watch(run: LoadRun) -> None:
        console.print(live_panel(run))
        views.append(console.export_text())

    report = (await run_scenario(read_scenario(str(path)), on_sample=watch)).report
    assert len(views) >= 3
    assert "active agents" in views[-1]
    assert "threshold lost == 0" in views[-1]
    assert "✗" not in views[-1]
    assert "remaining" in views[0]
    assert report["passed"], report["thresholds"]
    assert report["accounting"]["reconciled"]
    active = report["series"]["active_agents"]
    assert max(active) == 5
    assert active[-1] == 0
    assert report["figures"]["agents"] == 5  # ramping down retires users, it does not respawn


def test_bad_scenario_exits_2_naming_key_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tiny(tmp_path, '["lost == 0"]', 'turns = 3\nspawn_rate = "fast"')
    code = main(["loadtest", "run", str(path), "--no-live"])
    out = capsys.readouterr().out
    assert code == EXIT_BAD_INPUT
    assert "agents.spawn_rate" in out
    assert "tiny.toml:8" in out
    assert main(["loadtest", "run", "no_such_scenario", "--no-live"]) == EXIT_BAD_INPUT
    assert "shipped: [" in capsys.readouterr().out


def test_validate_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", "validate", "smoke", "chaos"]) == 0
    assert main(["loadtest", "validate", str(tiny(tmp_path, '["nope < 1"]'))]) == EXIT_BAD_INPUT
    assert "unknown metric 'nope'" in capsys.readouterr().out
    assert main(["loadtest", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("smoke", "swarm_1k", "swarm_10k", "chaos", "soak"))


def test_compare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = sample_report(), sample_report()
    b["figures"]["response_p95"] = a["figures"]["response_p95"] * 2
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    assert main(["loadtest", "compare", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "response_p95" in out
    assert "+100" in out
    (tmp_path / "c.json").write_text("{not json")
    assert main(["loadtest", "compare", str(tmp_path / "a.json"), str(tmp_path / "c.json")]) == 2
    assert "not JSON" in capsys.readouterr().out
