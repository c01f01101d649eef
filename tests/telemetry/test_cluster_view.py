"""The cluster view's arithmetic (``agentrt.telemetry._cluster``) and its wire records
(``agentrt.cluster._stats``): totals sum the fresh nodes, histograms merge exactly, stale
records are kept and marked, records round-trip and stay small, damaged ones are refused."""

from __future__ import annotations

import random

import msgspec
import pytest

from agentrt import Runtime
from agentrt.cluster import ClusterConfig
from agentrt.cluster._stats import MAX_RECORD, WIRE_BUCKETS, decode_stats, encode_stats
from agentrt.errors import ConfigError
from agentrt.telemetry import LogHistogram, NodeStats
from agentrt.telemetry._cluster import Rate, merge


def _hist(values: list[float]) -> LogHistogram:
    h = LogHistogram()
    for v in values:
        h.record(v)
    return h


def _node(name: str, at: float, latencies: list[float], **figures: float) -> NodeStats:
    return NodeStats(
        node_id=name, epoch=1, at=at, turn_latency=_hist(latencies),
        llm_queue_wait=_hist([v / 10 for v in latencies]), **figures,  # type: ignore[arg-type]
    )  # fmt: skip


def test_totals_sum_fresh_nodes_and_merge_histograms_exactly() -> None:
    rng = random.Random(7)
    fast = [rng.uniform(0.01, 0.05) for _ in range(960)]
    slow = [rng.uniform(1.0, 2.0) for _ in range(40)]
    a = _node("a", 100.0, fast, turns=960, errors=3, agents_live=10, loop_lag_ms=2.0,
              turns_per_s=90.0, fence_rejections=1, redeliveries=2, moves=4)  # fmt: skip
    b = _node("b", 100.5, slow, turns=40, errors=1, agents_live=5, loop_lag_ms=7.5,
              turns_per_s=10.0, fence_rejections=2, redeliveries=0, moves=1)  # fmt: skip
    view = merge([a, b], now=101.0, stale_after=6.0)
    t = view.totals
    assert (t.nodes, t.stale, t.turns, t.errors, t.agents_live) == (2, 0, 1000, 4, 15)
    assert (t.fence_rejections, t.redeliveries, t.moves) == (3, 2, 5)
    assert t.turns_per_s == 100.0
    assert t.loop_lag_ms == 7.5
    # the merged histogram is the histogram of every value: same p95 to the last bit
    together = _hist(fast + slow)
    assert t.turn_latency.count == 1000
    assert t.turn_latency.quantile(0.95) == together.quantile(0.95)
    assert t.p95_ms == together.quantile(0.95) * 1000
    # an average of the two p95s would be far off: 96 % of the turns are fast
    assert t.p95_ms < 60 < (a.p95_ms + b.p95_ms) / 2
    # the inputs are left as they were
    assert a.turn_latency.count == 960
    assert b.turn_latency.count == 40


def test_stale_nodes_are_kept_marked_with_their_age_and_left_out_of_totals() -> None:
    fresh = _node("fresh", 99.0, [0.1], turns=5, turns_per_s=1.0)
    quiet = _node("quiet", 80.0, [0.2] * 10, turns=50, turns_per_s=9.0)
    view = merge([quiet, fresh], now=100.0, stale_after=6.0)
    assert [(n.node_id, n.stale, n.age_s) for n in view.nodes] == [
        ("fresh", False, 1.0),
        ("quiet", True, 20.0),
    ]
    assert (view.totals.nodes, view.totals.stale, view.totals.turns) == (1, 1, 5)
    assert view.as_dict()["nodes"][1]["stale"] is True


def test_nodes_sorted_by_turns_per_s() -> None:
    nodes = [_node(n, 100.0, [], turns_per_s=r) for n, r in (("x", 1.0), ("y", 5.0), ("z", 3.0))]
    assert [n.node_id for n in merge(nodes, now=100.0, stale_after=6.0).nodes] == ["y", "z", "x"]


def test_record_round_trips_and_stays_bounded() -> None:
    rng = random.Random(3)
    node = _node("n-1", 123.25, [rng.uniform(0.05, 3.0) for _ in range(5000)], turns=5000,
                 errors=2, agents_live=7, agents_passivated=3, loop_lag_ms=1.25,
                 turns_per_s=12.5, fence_rejections=1, redeliveries=2, moves=3)  # fmt: skip
    node = NodeStats(**{**{f: getattr(node, f) for f in node.__dataclass_fields__},
                        "load": {"agents": 10.0, "placeable": 1.0}})  # fmt: skip
    raw = encode_stats(node)
    back = decode_stats(raw)
    assert back.load == {"agents": 10.0, "placeable": 1.0}
    for field in ("node_id", "epoch", "at", "turns", "errors", "agents_live", "moves",
                  "agents_passivated", "loop_lag_ms", "turns_per_s", "fence_rejections",
                  "redeliveries"):  # fmt: skip
        assert getattr(back, field) == getattr(node, field), field
    assert back.turn_latency.quantile(0.95) == node.turn_latency.quantile(0.95)
    assert back.turn_latency.count == 5000
    assert back.llm_queue_wait.count == 5000
    assert len(raw) < 1500
    # the widest histogram there is (1 µs .. 1e6 s) is sent at a coarser scale, bounded
    wide = _node("w", 1.0, [10 ** (e / 10) for e in range(-60, 60)])
    raw = encode_stats(wide)
    assert len(raw) < MAX_RECORD // 4
    back = decode_stats(raw)
    assert len(back.turn_latency.counts) <= WIRE_BUCKETS
    assert back.turn_latency.count == 120


@pytest.mark.parametrize(
    "raw",
    [
        b"not msgpack at all",
        msgspec.msgpack.encode([1, "n", 1]),  # too short
        msgspec.msgpack.encode({"v": 1}),
        b"\x00" * (MAX_RECORD + 1),
    ],
)
def test_damaged_records_are_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(ValueError, match=r".+"):
        decode_stats(raw)


def test_other_version_and_negative_counts_are_refused() -> None:
    good = msgspec.msgpack.decode(encode_stats(_node("n", 1.0, [0.1, 0.2])))
    good[0] = 99
    with pytest.raises(ValueError, match="version 99"):
        decode_stats(msgspec.msgpack.encode(good))
    good[0] = 1
    good[15][2] = [-5]
    with pytest.raises(ValueError, match="negative"):
        decode_stats(msgspec.msgpack.encode(good))


def test_rate_between_readings() -> None:
    rate = Rate(start=0.0, min_s=0.5)
    assert rate(10, 2.0) == 5.0
    assert rate(12, 2.1) == 5.0  # too soon: the last rate
    assert rate(30, 4.0) == 10.0


def test_stats_config_is_validated() -> None:
    with pytest.raises(ConfigError, match="stats_ttl_ms"):
        ClusterConfig(stats_ms=2_000, stats_ttl_ms=5_000)
    with pytest.raises(ConfigError, match="stats_ms"):
        ClusterConfig(stats_ms=0)
    assert ClusterConfig(renew_ms=500, stats_ms=100, stats_ttl_ms=2_000).stats_stale_s == 1.5


async def test_a_runtime_without_cluster_answers_a_one_node_view() -> None:
    async with Runtime() as rt:
        view = await rt.telemetry.cluster()
    assert view.clustered is False
    assert len(view.nodes) == 1
    assert not view.nodes[0].stale
    assert view.nodes[0].node_id == rt.directory.node_id
    assert view.totals.nodes == 1
    assert view.totals.turns == rt.telemetry.turns.count
