"""The operating fault kinds of ``[cluster]`` scenarios (issue 18 §5): ``drain``, ``join``
and ``rolling_restart``: their validation, the shipped ``cluster_rolling`` and
``cluster_rebalance`` scenarios, the schedule carried out (on recorded stand-ins of the
node processes: which node, in which order, same ids on a restart), and one real
``agentrt node`` process drained (SIGTERM: it exits 0) and started again under its id.
The shipped scenarios themselves run for 20-30 s: docs/cluster.md has their figures."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agentrt.errors import ConfigError
from agentrt.loadtest import load_scenario, shipped_scenario
from agentrt.loadtest._cluster_balance import balance_of, read_balance
from agentrt.loadtest._cluster_procs import ClusterProcs
from agentrt.loadtest._cluster_run import _Faults, _inject
from agentrt.loadtest._cluster_spec import ClusterSpec
from agentrt.loadtest._scenario import parse_scenario


def _scenario(faults: dict[str, object], nodes: int = 2) -> None:
    parse_scenario(
        {"name": "c", "agents": {"count": 2, "turns": 1}, "cluster": {"nodes": nodes},
         "faults": faults}
    )  # fmt: skip


def test_the_operating_fault_kinds_name_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match=r"faults\.drain\[0\]\.replace"):
        _scenario({"drain": [{"at": "1s", "replace": "yes"}]})
    with pytest.raises(ConfigError, match=r"faults\.join\[0\]\.count"):
        _scenario({"join": [{"at": "1s", "count": 0}]})
    with pytest.raises(ConfigError, match="did you mean 'count'"):
        _scenario({"join": [{"at": "1s", "cnt": 2}]})
    with pytest.raises(ConfigError, match=r"faults\.rolling_restart\[0\]\.at"):
        _scenario({"rolling_restart": [{"at": "soon"}]})
    with pytest.raises(ConfigError, match="would drain every node"):
        _scenario({"drain": [{"at": "1s"}, {"at": "2s"}]})
    _scenario({"drain": [{"at": "1s"}, {"at": "2s"}], "join": [{"at": "0.5s"}]})  # one stays
    _scenario({"drain": [{"at": "1s", "replace": True}]}, nodes=1)
    with pytest.raises(ConfigError, match="needs at least 2 nodes"):
        _scenario({"rolling_restart": [{"at": "1s"}]}, nodes=1)
    with pytest.raises(ConfigError, match=r"need a \[cluster\] table"):
        parse_scenario(
            {"name": "c", "agents": {"count": 2, "turns": 1}, "faults": {"join": [{"at": "1s"}]}}
        )
    with pytest.raises(ConfigError, match="nodes the runner starts"):
        parse_scenario(
            {"name": "c", "agents": {"count": 2, "turns": 1},
             "cluster": {"nodes": 0, "redis_url": "redis://127.0.0.1:6379/0"},
             "faults": {"join": [{"at": "1s"}]}}
        )  # fmt: skip
    with pytest.raises(ConfigError, match="rebalance"):
        parse_scenario(
            {"name": "c", "agents": {"count": 2, "turns": 1}, "cluster": {"rebalance": "1ms"}}
        )


def test_the_shipped_operating_scenarios_hold_the_goals_as_thresholds() -> None:
    rolling = load_scenario(shipped_scenario("cluster_rolling"))
    assert rolling.cluster is not None
    assert rolling.cluster.nodes == 3
    assert len(rolling.faults.rolling_restart) == 1
    assert {"turns_failed == 0", "lost == 0", "duplicated == 0"} <= {
        t.expr for t in rolling.parsed_thresholds
    }
    rebalance = load_scenario(shipped_scenario("cluster_rebalance"))
    assert rebalance.cluster is not None
    assert rebalance.cluster.nodes == 1
    assert len(rebalance.faults.join) == 1
    assert {"rebalance_balance <= 1.15", "rebalance_rounds <= 2", "turns_failed == 0"} <= {
        t.expr for t in rebalance.parsed_thresholds
    }


def test_balance_is_the_busiest_over_the_mean() -> None:
    assert balance_of([30.0, 30.0]) == 1.0
    assert balance_of([45.0, 15.0]) == 1.5
    assert balance_of([10.0]) is None
    assert balance_of([0.0, 0.0]) is None


class _FakeProcs:
    """What ``_inject`` asks of the node processes, recorded (no process started)."""

    def __init__(self, nodes: list[str]) -> None:
        self.nodes: dict[str, object] = dict.fromkeys(nodes)
        self.calls: list[tuple[str, str]] = []
        self._count = len(nodes)

    def start_node(self, node_id: str | None = None) -> str:
        if node_id is None:
            self._count += 1
            node_id = f"node-{self._count}"
        self.nodes[node_id] = None
        self.calls.append(("start", node_id))
        return node_id

    def ready(self, node_id: str) -> None:
        self.calls.append(("ready", node_id))

    def drain(self, node_id: str) -> None:
        del self.nodes[node_id]
        self.calls.append(("drain", node_id))


def test_the_operating_faults_are_carried_out_in_order_on_the_right_nodes() -> None:
    scenario = parse_scenario(
        {"name": "ops", "agents": {"count": 2, "turns": 1}, "cluster": {"nodes": 2},
         "faults": {"join": [{"at": "0s", "count": 2}], "drain": [{"at": "0.01s"},
                    {"at": "0.02s", "replace": True}], "rolling_restart": [{"at": "0.03s"}]}}
    )  # fmt: skip
    procs = _FakeProcs(["node-1", "node-2"])
    record = _Faults()
    asyncio.run(_inject(scenario, procs, None, time.time(), record))  # type: ignore[arg-type]
    assert procs.calls == [
        ("start", "node-3"), ("start", "node-4"), ("ready", "node-3"), ("ready", "node-4"),
        ("drain", "node-1"),  # the first in turn
        ("drain", "node-3"), ("start", "node-5"), ("ready", "node-5"),  # replaced
        *[c for n in ("node-2", "node-4", "node-5")
          for c in (("drain", n), ("start", n), ("ready", n))],  # same ids, one at a time
    ]  # fmt: skip
    assert [w[0] for w in record.windows] == ["join", "drain", "drain", "rolling_restart"]
    assert (record.done["join"], record.done["drain"], record.done["rolling_restart"]) == (1, 2, 1)


async def test_a_drained_node_process_exits_and_starts_again_under_its_id(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    spec = ClusterSpec(nodes=1, name="ops", prefix=redis_prefix + "cl:",
                       store_prefix=redis_prefix + "mem:", rebalance="0s")  # fmt: skip
    procs = ClusterProcs(spec, redis_url, tmp_path, 0.0)
    try:
        node = procs.start_node()
        await asyncio.to_thread(procs.ready, node)
        assert "--no-rebalance" in procs.nodes[node].args  # type: ignore[operator]
        first = procs.nodes[node]
        await asyncio.to_thread(procs.drain, node)
        assert first.returncode == 0
        assert node not in procs.nodes
        await asyncio.to_thread(procs.ready, procs.start_node(node))  # rejoins, new epoch
        assert procs.nodes[node].poll() is None
        assert procs.exited_on_their_own() == []
        figures = await read_balance(redis_url, spec)
        assert figures == {"rebalance_balance": None, "rebalance_rounds": 0.0}  # one node
    finally:
        procs.close()
    assert all(p.poll() is not None for p in procs.started)
