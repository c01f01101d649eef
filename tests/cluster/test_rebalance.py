"""Rebalancing (issue 18 §2): the round's plan (pure), and a node joining under load
(runtimes in this process, real Redis): its share of the agents moves to it in bounded
rounds, no turn fails, none is stored twice, and the rounds and moves are counted."""

from __future__ import annotations

from collections import Counter

import pytest
import redis.asyncio as aioredis
from support.clusterload import TurnLoad, logs_once
from support.clusterload import cluster_of as _cluster
from support.clusterload import owners as _owners
from support.waiting import eventually

from agentrt import Agent, Runtime, RuntimeConfig
from agentrt.cluster import ClusterConfig, ClusterNode
from agentrt.cluster._rebalance import Rebalancer, plan
from agentrt.cluster._scripts import Member, MembersView
from agentrt.errors import ConfigError
from agentrt.llm.providers import MockProvider
from agentrt.runtime._config import StoreConfig

# -- the plan ---------------------------------------------------------------------------


def test_a_lone_busy_node_sheds_towards_the_mean_within_the_round_limits() -> None:
    assert plan({"a": 100, "b": 0}, "a") == {"b": 25}  # 25 % of all agents per round
    assert plan({"a": 100, "b": 0}, "a", fraction=1.0) == {"b": 50}  # down to the mean
    assert plan({"a": 100, "b": 0}, "a", fraction=1.0, max_moves=10) == {"b": 10}
    assert plan({"a": 75, "b": 25}, "a") == {"b": 25}  # the second round ends it
    assert plan({"a": 50, "b": 50}, "a") == {}
    assert plan({"a": 100, "b": 0}, "b") == {}  # only an overloaded node sheds
    assert plan({"a": 100}, "a") == {}
    assert plan({"b": 3}, "a") == {}


def test_a_node_within_the_tolerance_moves_nothing() -> None:
    assert plan({"a": 57, "b": 43}, "a") == {}  # 57 <= 1.15 x 50
    assert plan({"a": 58, "b": 42}, "a") == {"b": 8}
    assert plan({"a": 58, "b": 42}, "a", tolerance=0.2) == {}


def test_concurrent_shedders_fill_each_deficit_once_in_proportion() -> None:
    counts = {"a": 90, "b": 90, "c": 0, "d": 0}  # two joined: each gets 45
    a = plan(counts, "a", fraction=1.0)
    b = plan(counts, "b", fraction=1.0)
    got = Counter(a) + Counter(b)
    assert got == {"c": 45, "d": 45}
    assert sum(a.values()) == sum(b.values()) == 45
    # the round's limit is the cluster's: shared by the shedders by their excess
    a = plan(counts, "a", max_moves=30)
    b = plan(counts, "b", max_moves=30)
    assert sum(a.values()) + sum(b.values()) == 30


def test_the_moves_never_exceed_a_deficit_after_rounding() -> None:
    counts = {"a": 10, "b": 0, "c": 0, "d": 0}
    out = plan(counts, "a", fraction=1.0)
    assert sum(out.values()) == 7  # down to ceil(2.5) = 3
    assert all(k <= 3 for k in out.values())


def test_rebalance_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="rebalance"):
        ClusterConfig(rebalance="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rebalance_fraction"):
        ClusterConfig(rebalance_fraction=0)
    with pytest.raises(ConfigError, match="rebalance_max_moves"):
        ClusterConfig(rebalance_max_moves=0)
    with pytest.raises(ConfigError, match="rebalance_ms"):
        ClusterConfig(rebalance_ms=1)


# -- a node joins under load ------------------------------------------------------------


def _node(url: str, prefix: str, node_id: str, *, placeable: bool = True) -> Runtime:
    cluster = ClusterConfig(
        name="t", redis_url=url, prefix=prefix + "cl:", node_id=node_id, ttl_ms=6_000,
        renew_ms=50, placeable=placeable, rebalance_ms=100,
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=url, prefix=prefix + "mem:")
    backends = {"mock": MockProvider(latency_ms=2)}
    rt = Runtime(RuntimeConfig(store=store), cluster=cluster, llm_backends=backends)
    rt.route("k-", Agent)
    return rt


async def _where(client: aioredis.Redis, prefix: str, ids: list[str]) -> dict[str, str]:
    out = {}
    for agent_id in ids:
        raw = await client.hget(f"{prefix}cl:t:{{agent:{agent_id}}}:dir", "o")
        out[agent_id] = raw.decode() if raw else ""
    return out


async def test_a_joining_node_gets_its_share_under_load_and_no_turn_fails(
    redis_url: str, redis_prefix: str
) -> None:
    ids = [f"k-{i}" for i in range(40)]
    client = aioredis.Redis.from_url(redis_url)
    a = _node(redis_url, redis_prefix, "a")
    c = _node(redis_url, redis_prefix, "c", placeable=False)
    b = _node(redis_url, redis_prefix, "b")
    try:
        async with a, c:
            await _cluster(c).membership.wait_for(2, timeout=20)
            for agent_id in ids:
                await c.ask(agent_id, "warm", timeout=20)
            assert (await _owners(client, redis_prefix, ids))["a"] == len(ids)
            busy, quiet = ids[:20], ids[20:]  # quiet: asked before the join only
            load = TurnLoad([c, a], busy, workers=3)
            for agent_id in busy:
                load.sent[agent_id].append("warm")
            try:
                async with b:
                    node_a, node_b = _cluster(a), _cluster(b)

                    async def balanced() -> bool:
                        owners = await _owners(client, redis_prefix, ids)
                        return max(owners["a"], owners["b"]) <= 1.15 * len(ids) / 2

                    await eventually(balanced, what="balance within 1.15x the mean", poll=0.05)
                    answered = load.answered
                    await eventually(lambda: load.answered > answered + 40, what="load after")
                    await load.stop()
                    assert load.failed == []
                    stats = node_a.stats()
                    assert stats.rebalance_rounds >= 1
                    assert stats.rebalanced == stats.moved
                    assert stats.rebalanced >= len(ids) / 2 - 0.15 * len(ids) / 2
                    assert node_b.stats().rebalance_rounds == 0
                    assert _cluster(c).rebalancer is None  # a client node hosts nothing
                    await logs_once(b, load)
                    # the caller learnt where the quiet ones went from the moves stream
                    where = await _where(client, redis_prefix, quiet)
                    assert "b" in where.values()

                    async def cached_right() -> bool:
                        found = [await _cluster(c).locate(i) for i in quiet]
                        return all(o.node_id == where[i] for i, o in zip(quiet, found, strict=True))

                    await eventually(cached_right, what="owners updated", poll=0.05)
            finally:
                await load.stop()
    finally:
        await client.aclose()


async def test_rebalance_off_moves_nothing(redis_url: str, redis_prefix: str) -> None:
    config = ClusterConfig(name="t", redis_url=redis_url, prefix=redis_prefix, rebalance=False)
    node = ClusterNode(config, host=None)  # type: ignore[arg-type]
    assert node.rebalancer is None
    assert await _never_started_round(node) == 0


async def _never_started_round(node: ClusterNode) -> int:
    return await Rebalancer(node).round()  # not serving: a round does nothing


class _Seen:
    """What ``Rebalancer.counts`` reads of a node: the members, the loads, the reads."""

    def __init__(self) -> None:
        members = {
            n: Member(node_id=n, epoch=1, address="", status="alive") for n in ("a", "b", "c")
        }
        self.membership = type("M", (), {"view": MembersView(version=1, members=members)})()
        self.load = {
            "a": {"owned": 9.0, "at": 100.0},
            "b": {"owned": 1.0, "at": 50.0},  # another machine's clock: far behind
            "c": {"agents": 4.0, "placeable": 0.0, "at": 70.0},  # a client node
        }
        self.loads_read = 1

    def loads(self) -> dict[str, dict[str, float]]:
        return self.load


def test_a_round_waits_for_records_published_after_the_last_one_without_comparing_clocks() -> None:
    node = _Seen()
    rebalancer = Rebalancer(node)  # type: ignore[arg-type]
    assert rebalancer.counts() == {"a": 9, "b": 1}  # the client node hosts nothing
    rebalancer._reads_at_end = node.loads_read  # a round just ended
    assert rebalancer.counts() is None  # not read since
    node.loads_read += 1
    assert rebalancer.counts() is None  # read since: these records are the baseline
    node.load["a"]["at"] = 101.0
    assert rebalancer.counts() is None  # b has published nothing newer yet
    node.load["b"] = {"owned": 2.0, "at": 51.0}
    node.load["c"]["at"] = 71.0
    assert rebalancer.counts() == {"a": 9, "b": 2}
    node.membership.view = MembersView(
        version=2, members={**node.membership.view.members,
                            "d": Member(node_id="d", epoch=1, address="", status="draining")}
    )  # fmt: skip
    assert rebalancer.counts() is None  # no round while a node drains
