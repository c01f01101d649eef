"""Per-agent stats, windows, targets and views of ``Telemetry``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentrt.errors import ConfigError
from agentrt.telemetry import Targets, Telemetry


def test_record_turns_and_views() -> None:
    t = Telemetry()
    a = t.agent_stats("a", "Helper")
    b = t.agent_stats("b", "Helper")
    for _ in range(10):
        t.record_turn(a, 0.1, True)
    t.record_turn(b, 3.0, True)
    t.record_turn(b, 0.5, False)
    b.cost = 0.25
    assert t.agent_stats("a", "Other") is a  # kept, not replaced
    view = t.agent("a")
    assert view is not None
    assert view["turns"] == 10
    assert view["p95_ms"] == pytest.approx(100, rel=0.02)
    assert t.agent("missing") is None
    assert [v["id"] for v in t.top(1, by="p95")] == ["b"]
    assert [v["id"] for v in t.top(2, by="turns")] == ["a", "b"]
    assert [v["id"] for v in t.top(1, by="cost")] == ["b"]
    assert t.top(1, by="errors")[0]["errors"] == 1
    with pytest.raises(ValueError, match="unknown ordering"):
        t.top(1, by="colour")


def test_top_orders_by_live_figures_and_builds_only_the_views_it_returns() -> None:
    t = Telemetry()
    for name in ("a", "b", "c", "d"):
        t.record_turn(t.agent_stats(name, "Helper"), 0.01, True)
    depth = {"a": 0, "b": 7, "c": 2, "d": 7}
    asked: list[str] = []

    def live(agent_id: str) -> dict[str, Any]:
        asked.append(agent_id)
        return {"mailbox": depth[agent_id], "restarts": 0, "state": "idle"}

    t.live_agent = live
    assert t.agent_count() == 4
    assert [v["id"] for v in t.top(3, by="mailbox")] == ["b", "d", "c"]  # ties: spawn order
    asked.clear()
    top = t.top(2, by="turns")
    assert [v["id"] for v in top] == ["a", "b"]
    assert asked == ["a", "b"]  # views of the two returned agents only
    assert t.top(0, by="bytes") == []


@given(st.lists(st.lists(st.sampled_from([0.0, 0.01, 0.02, 0.5, 3.0]), max_size=6), max_size=40),
       st.integers(min_value=0, max_value=12))  # fmt: skip
def test_slowest_matches_sorting_every_view(latencies: list[list[float]], n: int) -> None:
    t = Telemetry()
    for i, values in enumerate(latencies):
        stats = t.agent_stats(f"a{i}", "Helper")
        for v in values:
            t.record_turn(stats, v, True)
    every = sorted(t.agents(), key=lambda v: v["p95_ms"], reverse=True)  # stable: spawn order
    assert [v["id"] for v in t.top(n, by="p95")] == [v["id"] for v in every[:n]]


def test_snapshot_is_json_and_includes_sources() -> None:
    from dataclasses import dataclass

    @dataclass
    class Nested:
        x: int

    t = Telemetry()
    t.add_source("custom", lambda: {"nested": Nested(3), "when": object()})
    t.record_turn(t.agent_stats("a", "A"), 0.2, True)
    snap = t.snapshot()
    text = json.dumps(snap)
    assert '"x": 3' in text
    assert snap["summary"]["turns"] == {"ok": 1, "failed": 0}
    assert snap["agents_tracked"] == 1


def test_windows_forget_old_values() -> None:
    t = Telemetry()
    s = t.agent_stats("a", "A")
    t.record_turn(s, 5.0, True)
    assert t.figures()["response_p95_s"] == pytest.approx(5.0, rel=0.02)
    t.tick()
    assert t.figures()["response_p95_s"] == pytest.approx(5.0, rel=0.02)  # previous half
    t.tick()
    assert t.figures()["response_p95_s"] is None  # a full window later: forgotten
    assert t.turns.total.count == 1  # the all-time histogram keeps it


def test_targets_breach_and_recover_events() -> None:
    t = Telemetry(targets=Targets(response_p95_s=1.0, error_rate=0.5))
    seen: list[Any] = []
    t.events.attach(
        "t",
        [("agentrt", "target", "breach"), ("agentrt", "target", "recovered")],
        lambda name, m, meta, st: seen.append((name[-1], meta["target"], m["value"])),
    )
    s = t.agent_stats("a", "A")
    t.record_turn(s, 3.0, True)
    statuses = {x.name: x for x in t.check_targets()}
    assert not statuses["response_p95_s"].ok
    assert statuses["error_rate"].ok
    t.check_targets()  # still breached: no second event
    assert seen == [("breach", "response_p95_s", pytest.approx(3.0, rel=0.02))]
    assert t.breaches == 1
    t.tick()
    t.tick()  # the slow turn left the window
    t.record_turn(s, 0.1, True)
    t.check_targets()
    assert seen[-1][:2] == ("recovered", "response_p95_s")


def test_targets_validation() -> None:
    with pytest.raises(ConfigError, match="response_p95_s"):
        Targets(response_p95_s=-1)
    assert "bytes_per_agent" in Targets().limits()
    assert "error_rate" not in Targets().limits()


def test_llm_usage_is_reported_into_the_agents_one_record() -> None:
    """The LLM pool reports through ``UsageRecorder``; ``Telemetry`` is one, and the usage
    lands in the same ``AgentStats`` the agent's turns go to."""
    from agentrt.telemetry import UsageRecorder

    t = Telemetry()
    recorder: UsageRecorder = t
    recorder.llm_call("a", 100, 20, 0.5, 0.25, None)  # before the agent started
    stats = t.agent_stats("a", "Helper")
    assert stats.agent_class == "Helper"  # filled in when the agent starts
    recorder.llm_call("a", 10, 2, 0.25, 0.5, 0.125)  # a stream
    recorder.llm_retry("a")
    recorder.llm_queue_wait("a", 0.004)
    recorder.llm_error("a", TimeoutError())
    recorder.llm_error("a", TimeoutError())
    view = t.agent("a")
    assert view is not None
    assert (view["llm_requests"], view["tokens_in"], view["tokens_out"]) == (2, 110, 22)
    assert (view["cost"], view["llm_s"], view["retries"]) == (0.75, 0.75, 1)
    assert (view["streams"], view["ttft_mean_ms"], view["queue_wait_ms"]) == (1, 125.0, 4.0)
    assert view["llm_errors"] == {"TimeoutError": 2}
    assert t.agent_count() == 1


def test_usage_of_unknown_agents_is_bounded_and_off_with_stats() -> None:
    t = Telemetry(max_agents=2)
    for name in ("a", "b", "c"):
        t.llm_call(name, 1, 1, 0.0, 0.1, None)
    assert (t.agent_count(), t.unrecorded) == (2, 1)
    assert t.agent("c") is None
    assert t.agent_stats("c", "Helper").agent_class == "Helper"  # agents always get one
    off = Telemetry(stats=False)
    off.llm_call("a", 1, 1, 0.0, 0.1, None)
    off.llm_error("a", TimeoutError())
    assert off.agent_count() == 0
    with pytest.raises(ValueError, match="max_agents"):
        Telemetry(max_agents=0)
