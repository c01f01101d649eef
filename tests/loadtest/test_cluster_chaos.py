"""``[cluster]`` load scenarios (issue 17's ``cluster_chaos``, issue 18 §5): the table's
validation, and a short run of the shipped ``cluster_chaos`` through ``agentrt loadtest
run`` with real ``agentrt node`` processes, a redis-server of the run's own and one fault
of each kind; the figures are computed, the thresholds judged and every process stopped.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentrt.errors import ConfigError
from agentrt.loadtest import load_scenario, shipped_scenario
from agentrt.loadtest._cluster_run import _Faults, _inject
from agentrt.loadtest._scenario import parse_scenario
from agentrt.loadtest._thresholds import Threshold

SHORT = """
turn_timeout = "5s"
thresholds = [
  "lost == 0", "duplicated == 0", "response_p95_outside_faults < 2s",
  "node_kills == 1", "node_pauses == 1", "redis_restarts == 1",
]

[agents]
count = 6
duration = "4s"

[cluster]
nodes = 2

[faults]
node_kill = [{ at = "0.5s" }]
node_pause = [{ at = "1.5s", duration = "1.2s" }]
redis_restart = [{ at = "3.2s", down = "300ms" }]
"""


def _scenario(**tables: object) -> None:
    parse_scenario({"name": "c", "agents": {"count": 2, "turns": 1}, **tables})


def test_the_cluster_table_names_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="nodse"):
        _scenario(cluster={"nodse": 3})
    with pytest.raises(ConfigError, match="renew"):
        _scenario(cluster={"ttl": "400ms", "renew": "300ms"})
    with pytest.raises(ConfigError, match="redis_url"):
        _scenario(cluster={"nodes": 0})
    with pytest.raises(ConfigError, match=r"need a \[cluster\] table"):
        _scenario(faults={"node_kill": [{"at": "1s"}]})
    with pytest.raises(ConfigError, match="only restarts a redis-server it started"):
        _scenario(
            cluster={"redis_url": "redis://127.0.0.1:6379/0"},
            faults={"redis_restart": [{"at": "1s"}]},
        )
    with pytest.raises(ConfigError, match="crash_rate"):
        _scenario(cluster={}, faults={"crash_rate": 0.1})
    with pytest.raises(ConfigError, match="duration"):
        _scenario(cluster={}, faults={"node_pause": [{"at": "1s", "duration": "0s"}]})


def test_the_shipped_scenario_has_its_faults_and_thresholds() -> None:
    scenario = load_scenario(shipped_scenario("cluster_chaos"))
    assert scenario.cluster is not None
    assert scenario.cluster.nodes == 3
    faults = scenario.faults
    assert (len(faults.node_kill), len(faults.node_pause), len(faults.redis_restart)) == (3, 3, 1)
    rules = {t.expr for t in scenario.parsed_thresholds}
    assert {"lost == 0", "duplicated == 0", "response_p95_outside_faults < 2s"} <= rules


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_a_short_cluster_chaos_run_measures_and_judges(tmp_path: Path) -> None:
    overlay = tmp_path / "short.toml"
    overlay.write_text(SHORT)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "agentrt.cli", "loadtest", "run", "cluster_chaos",
           "--with", str(overlay), "--out", str(out), "--no-live"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=32)
    except subprocess.TimeoutExpired:  # as Ctrl-C: the runner stops every process it started
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=12)
    assert proc.returncode in (0, 99), output
    (report_path,) = out.glob("cluster_chaos-*.json")
    report = json.loads(report_path.read_text())
    figures = report["figures"]
    assert (figures["node_kills"], figures["node_pauses"], figures["redis_restarts"]) == (1, 1, 1)
    assert figures["turns_sent"] > 0
    assert figures["turns_sent"] == (
        figures["turns_answered"] + figures["turns_failed"] + figures["lost"]
    )
    assert isinstance(figures["duplicated"], int)  # the conversations were read back
    assert figures["response_p95_outside_faults"] is not None
    kinds = [w["kind"] for w in report["faults"]["windows"]]
    assert kinds == ["node_kill", "node_pause", "redis_restart"]
    judged = {row["expr"]: row for row in report["thresholds"]}
    assert len(judged) == 6 + 1  # and the built-in supervisor_shutdowns == 0
    for expr in ("lost == 0", "duplicated == 0", "response_p95_outside_faults < 2s"):
        row = judged[expr]
        assert row["ok"] == Threshold.parse(expr, key="t").check(row["value"]), row
    assert report["passed"] == all(row["ok"] for row in report["thresholds"])
    assert proc.returncode == (0 if report["passed"] else 99)
    pids = report["faults"]["pids"]
    assert len(pids) == 2 + 1 + 1  # two nodes, the replacement of the killed one, the generator
    assert not [pid for pid in pids if _alive(pid)]


class _SlowStarts:
    """``ClusterProcs`` for ``_inject``: a killed node's replacement joins only once a
    node was resumed (SIGCONT), which the old injector, waiting for the replacement
    before the next fault, never got to."""

    def __init__(self) -> None:
        self.nodes = {"node-1": None, "node-2": None}
        self.resumed = threading.Event()
        self.sent: list[tuple[str, int]] = []

    def kill(self, node_id: str) -> None:
        del self.nodes[node_id]

    def start_node(self) -> str:
        self.nodes["node-3"] = None
        return "node-3"

    def ready(self, node_id: str) -> None:
        assert self.resumed.wait(20), "the pause did not come while the replacement started"

    def signal(self, node_id: str, sig: int) -> None:
        self.sent.append((node_id, sig))
        if sig == signal.SIGCONT:
            self.resumed.set()


async def test_a_slow_replacement_does_not_hold_up_the_faults_after_it() -> None:
    scenario = parse_scenario(
        {
            "name": "c",
            "agents": {"count": 2, "turns": 1},
            "cluster": {"nodes": 2},
            "faults": {
                "node_kill": [{"at": "0s"}],
                "node_pause": [{"at": "10ms", "duration": "10ms"}],
            },
        }
    )
    procs, record = _SlowStarts(), _Faults()
    async with asyncio.timeout(30):
        await _inject(scenario, procs, None, time.time(), record)  # type: ignore[arg-type]
    assert {kind: n for kind, n in record.done.items() if n} == {"node_kill": 1, "node_pause": 1}
    assert [kind for kind, _, _ in record.windows] == ["node_kill", "node_pause"]
    (_, kill_start, kill_end), (_, pause_start, _) = record.windows
    assert kill_start <= pause_start <= kill_end  # the pause came during the replacement
    assert procs.sent == [("node-2", signal.SIGSTOP), ("node-2", signal.SIGCONT)]
