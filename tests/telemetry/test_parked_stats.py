"""A passivated agent's stats are kept packed (``Telemetry.park``): every view reads the
same figures, usage reported afterwards is not lost, and a restart carries them on."""

from __future__ import annotations

import sys

from hypothesis import given
from hypothesis import strategies as st

from agentrt.telemetry import Telemetry
from agentrt.telemetry._stats import AgentStats, park, parked_reader, unpark

_values = st.sampled_from([0.0, 0.003, 0.01, 0.25, 3.0, 120.0])


def _stats(t: Telemetry, agent_id: str, latencies: list[float], seed: int) -> AgentStats:
    stats = t.agent_stats(agent_id, "Helper")
    for i, v in enumerate(latencies):
        t.record_turn(stats, v, ok=(i + seed) % 3 != 0)
    if seed % 2:
        t.llm_call(agent_id, 100 + seed, 7 * seed, 0.001 * seed, 0.5, 0.05)
        t.llm_error(agent_id, TimeoutError())
        t.llm_cache_hit(agent_id, 3, 4, 0.002)
    stats.tool_calls = seed
    stats.bytes_held = 1000 * seed
    return stats


@given(st.lists(st.lists(_values, max_size=8), min_size=1, max_size=12), st.integers(0, 12))
def test_parked_stats_read_as_before(latencies: list[list[float]], n: int) -> None:
    t = Telemetry()
    for i, values in enumerate(latencies):
        _stats(t, f"a{i}", values, i)
    views = t.agents()
    tops = {by: [v["id"] for v in t.top(n, by=by)] for by in ("p95", "turns", "cost", "bytes")}
    for i in range(0, len(latencies), 2):  # every other agent passivates
        t.park(f"a{i}")
    assert t.agents() == views
    for by, ids in tops.items():
        assert [v["id"] for v in t.top(n, by=by)] == ids, by
    assert t.agent_count() == len(latencies)


def test_park_round_trips_every_field_and_is_smaller() -> None:
    t = Telemetry()
    stats = _stats(t, "a", [0.01, 0.2, 0.2, 7.0, 0.0], 3)
    stats.retries, stats.queue_wait_s, stats.cache_hits, stats.cache_misses = 2, 0.5, 4, 1
    stats.tool_s, stats.llm_cache_misses = 0.75, 9
    data = park(stats)
    again = unpark(data)
    assert again.view() == stats.view()
    assert again.latency.counts == stats.latency.counts
    assert again.latency.offset == stats.latency.offset
    assert parked_reader("latency_max")(data) == 7.0
    for key in ("turns", "errors", "cost", "tokens_out", "bytes_held", "tool_calls", "retries"):
        assert parked_reader(key)(data) == getattr(stats, key), key
    held = sys.getsizeof(stats) + sys.getsizeof(stats.latency) + sys.getsizeof(stats.latency.counts)
    assert sys.getsizeof(data) < held / 2


def test_usage_after_parking_is_counted_and_a_restart_carries_the_record_on() -> None:
    t = Telemetry()
    stats = _stats(t, "a", [0.1, 0.2], 1)
    t.park("a")
    t.park("a")  # parking twice is harmless
    t.llm_call("a", 10, 20, 0.5, 1.0, None)  # e.g. a request that ended after passivation
    t.llm_retry("a")
    view = t.agent("a")
    assert view is not None
    assert view["llm_requests"] == stats.llm_requests + 1
    assert view["tokens_out"] == stats.tokens_out + 20
    assert view["retries"] == 1
    t.park("a")
    again = t.agent_stats("a", "Helper")  # the agent starts again
    assert {"id": "a", **again.view()} == view
    t.record_turn(again, 0.3, True)
    view = t.agent("a")
    assert view is not None
    assert view["turns"] == 3


class Held:
    def memory_bytes(self) -> int:
        return 42

    def memory_tiers(self) -> tuple[int, int, int]:
        return (30, 10, 2)


def test_a_record_still_read_off_an_open_conversation_is_not_parked() -> None:
    t = Telemetry()
    stats = t.agent_stats("a", "Helper")
    stats.memory_source = Held()
    assert t.memory_by_tier() == {"recent": 30, "compressed": 10, "summary": 2}
    t.park("a")
    t.park("missing")
    assert t.agent_stats("a", "Helper") is stats
