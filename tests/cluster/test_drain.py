"""Draining a node and moving agents (runtimes in this process, real Redis):

- a drain under a steady load: every agent the drained node held is released and answers
  from another node; no turn fails and none is stored twice (each turn's text is its own
  id, so a conversation is the log of the turns it took);
- ``agentrt node drain NODE`` marks the node through Redis; the node notices on its tick;
- a turn whose agent is stopped as its node loses its epoch is delivered again, not
  failed with ``AgentCrashed``;
- a move to another node (the rebalance's primitive) under load: no failure, and the
  old owner can no longer write (its token is stale).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from support.clusterload import TurnLoad, logs_once
from support.clusterload import cluster_of as _cluster
from support.clusterload import owners as _owners
from support.waiting import eventually

from agentrt import Agent, Runtime, RuntimeConfig
from agentrt.cli import main
from agentrt.cluster import ClusterConfig, Owner
from agentrt.llm.providers import MockProvider
from agentrt.runtime._config import StoreConfig


def _node(
    url: str, prefix: str, node_id: str, *, latency_ms: float = 0.0, placeable: bool = True
) -> Runtime:
    cluster = ClusterConfig(
        name="t", redis_url=url, prefix=prefix + "cl:", node_id=node_id, ttl_ms=6_000,
        renew_ms=100, placement="hash", placeable=placeable, move_batch=7,
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=url, prefix=prefix + "mem:")
    backends = {"mock": MockProvider(latency_ms=latency_ms)}
    rt = Runtime(RuntimeConfig(store=store), cluster=cluster, llm_backends=backends)
    rt.route("k-", Agent)
    return rt


@pytest.fixture
async def trio(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[Runtime, ...]]:
    a = _node(redis_url, redis_prefix, "a", latency_ms=5)
    b = _node(redis_url, redis_prefix, "b", latency_ms=5)
    c = _node(redis_url, redis_prefix, "c", placeable=False)
    async with a, b, c:
        for rt in (a, b, c):
            await _cluster(rt).membership.wait_for(3, timeout=20)
        await eventually(lambda: len(_cluster(c).loads()) == 3, what="loads published")
        yield a, b, c


async def test_a_drain_under_load_moves_every_agent_and_fails_no_turn(
    trio: tuple[Runtime, ...], redis_url: str, redis_prefix: str
) -> None:
    a, b, c = trio
    ids = [f"k-{i}" for i in range(40)]
    load = TurnLoad([a, b, c], ids, workers=4)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await eventually(lambda: load.answered > 120, what="load running")
        before = await _owners(client, redis_prefix, ids)
        assert before["a"] > 0, before
        assert before["b"] > 0, before
        drain = _cluster(a).drain()
        stats = await drain.done(timeout=60)
        assert stats.done
        assert stats.moved >= before["a"]
        assert _cluster(a).stats().moved == stats.moved
        assert _cluster(a).membership.view.members["a"].status == "draining"
        answered = load.answered
        await eventually(lambda: load.answered > answered + 100, what="load after the drain")
        await load.stop()
        after = await _owners(client, redis_prefix, ids)
        assert after["a"] == 0, after
        assert a.agent_counts()["live"] == 0
        assert load.failed == []
        await logs_once(b, load)
    finally:
        await load.stop()
        await client.aclose()


async def test_node_drain_command_marks_the_node_and_it_drains(
    trio: tuple[Runtime, ...], redis_url: str, redis_prefix: str
) -> None:
    a, _b, c = trio
    ids = [f"k-{i}" for i in range(10)]
    for agent_id in ids:
        await c.ask(agent_id, "hello", timeout=20)
    argv = ["node", "drain", "a", "--redis", redis_url, "--cluster", "t"]
    assert await asyncio.to_thread(main, [*argv, "--prefix", redis_prefix + "cl:"]) == 0
    await eventually(lambda: _cluster(a).draining, what="the drain noticed")
    await _cluster(a).drain().done(timeout=60)
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert (await _owners(client, redis_prefix, ids))["a"] == 0
    finally:
        await client.aclose()
    for agent_id in ids:
        assert (await a.ask(agent_id, "again", timeout=20)).text == "echo: again"
    assert await asyncio.to_thread(main, [*argv, "--prefix", redis_prefix + "cl:"]) == 0
    code = await asyncio.to_thread(
        main, ["node", "drain", "nobody", "--redis", redis_url, "--prefix", redis_prefix + "cl:"]
    )
    assert code == 1


async def test_a_turn_whose_agent_stops_as_its_node_loses_its_epoch_is_delivered_again(
    redis_url: str, redis_prefix: str
) -> None:
    async with _node(redis_url, redis_prefix, "slow", latency_ms=300) as rt:
        await rt.ask("k-1", "1st", timeout=20)
        membership = _cluster(rt).membership
        epoch = membership.epoch
        membership._stop_serving("told dead")  # its agents are being stopped...
        turn = asyncio.create_task(rt.ask("k-1", "2nd", timeout=20))  # ...as this arrives
        await asyncio.sleep(0.1)
        await membership._rejoin_now()
        assert (await turn).text == "echo: 2nd"
        assert membership.epoch > epoch
        assert rt.turn_stats().failed == 0
        users = [m.text for m in await rt.history("k-1", timeout=20) if m.role == "user"]
        assert users == ["1st", "2nd"]


async def test_a_move_to_another_node_under_load_fences_the_old_owner(
    trio: tuple[Runtime, ...], redis_url: str, redis_prefix: str
) -> None:
    a, b, c = trio
    ids = [f"k-{i}" for i in range(20)]
    load = TurnLoad([a, c], ids, workers=3)
    try:
        await eventually(lambda: load.answered > 60, what="load running")
        node_a, node_b = _cluster(a), _cluster(b)
        mine = node_a.owned()
        assert mine
        to = Owner(node_b.node_id, node_b.epoch, 0)
        token = node_a.owns(mine[0])
        assert token is not None
        moved = await asyncio.gather(*(node_a.move(i, to, limit=10) for i in mine))
        assert all(moved)
        assert not await node_a.move(mine[0], to)  # not held here any more
        answered = load.answered
        await eventually(lambda: load.answered > answered + 60, what="load after the moves")
        await load.stop()
        assert load.failed == []
        client = aioredis.Redis.from_url(redis_url)
        try:
            assert (await _owners(client, redis_prefix, mine))["b"] == len(mine)
        finally:
            await client.aclose()
        # the old owner's token is stale: a write with it is refused
        written, current = await node_a.scripts.fenced_write(
            node_a.scripts.keys.agent_dir(mine[0]), token, {redis_prefix + "x": b"1"}
        )
        assert not written
        assert current > token
        await logs_once(b, load)
    finally:
        await load.stop()


async def test_a_drained_node_refuses_an_agent_placed_on_it_from_an_older_view(
    trio: tuple[Runtime, ...], redis_url: str, redis_prefix: str
) -> None:
    a, b, _ = trio
    node_a = _cluster(a)
    stats = await node_a.drain().done(timeout=60)
    assert stats.done
    # a caller whose view predates the drain placed k-late on a: its claim is in Redis
    claim = await node_a.scripts.claim("k-late", "a", node_a.epoch)
    assert claim.won
    reply = await b.ask("k-late", "hello", timeout=30)
    assert reply.text
    client = aioredis.Redis.from_url(redis_url)
    try:
        owners = await _owners(client, redis_prefix, ["k-late"])
    finally:
        await client.aclose()
    assert owners["a"] == 0, owners  # released by a, placed again elsewhere
    assert a.directory.local("k-late") is None  # never started on the drained node
