"""Two cluster nodes (runtimes in this process, real sockets) through Redis outages:

- a Redis restart (a private redis-server without persistence: every key is gone, so
  every node is told dead, rejoins and the agents are placed again);
- one node's Redis connection cut through a TCP proxy for longer than the TTL: it is
  swept dead, the other node takes its agents over, and the cut node rejoins when the
  proxy is back.

Every turn asked is answered or fails with an error its caller sees; after recovery every
agent answers again. Plus: spawning on one node and asking from the other, a spawn of
an id a live node holds, and plain ``call``/``cast`` across the nodes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from support.tcpproxy import TcpProxy
from support.waiting import eventually

from agentrt import Agent, Runtime, RuntimeConfig
from agentrt.actor import CallTimeout
from agentrt.agent import AgentError, AgentExists, AgentNotFound
from agentrt.cluster import ClusterConfig, ClusterError, RemoteError, UnsupportedPayload
from agentrt.runtime._config import StoreConfig
from agentrt.testing import RedisServer


def _node(url: str, prefix: str, node_id: str, store_url: str | None = None) -> Runtime:
    cluster = ClusterConfig(
        name="t", redis_url=url, prefix=prefix + "cl:", node_id=node_id,
        ttl_ms=400, renew_ms=100, op_timeout=0.5, placement="hash",
    )  # fmt: skip
    store = StoreConfig(kind="redis", url=store_url or url, prefix=prefix + "mem:", op_timeout=1.0)
    rt = Runtime(RuntimeConfig(store=store), cluster=cluster)
    rt.route("k-", Agent)
    return rt


async def _see_each_other(*nodes: Runtime) -> None:
    for rt in nodes:
        await rt.directory.cluster.membership.wait_for(len(nodes), timeout=20)  # type: ignore[attr-defined]


async def _ask_all(rt: Runtime, ids: list[str], tag: str) -> tuple[int, int]:
    """(answered, failed with an error) over one ask per id; nothing else may happen."""
    answered = failed = 0
    for agent_id in ids:
        try:
            async with asyncio.timeout(20):
                reply = await rt.ask(agent_id, f"{tag} {agent_id}", timeout=10)
        except (AgentError, ClusterError):
            failed += 1
        else:
            assert reply.text == f"echo: {tag} {agent_id}"
            answered += 1
    return answered, failed


@pytest.fixture
async def pair(redis_url: str, redis_prefix: str) -> AsyncIterator[tuple[Runtime, Runtime]]:
    async with _node(redis_url, redis_prefix, "a") as a, _node(redis_url, redis_prefix, "b") as b:
        await _see_each_other(a, b)
        yield a, b


async def test_spawned_on_one_node_asked_from_the_other(pair: tuple[Runtime, Runtime]) -> None:
    a, b = pair
    await a.spawn(Agent, id="solo-1")
    ids = await a.spawn_swarm(Agent, 3, prefix="sw-", lazy=True)
    assert (await b.ask("solo-1", "hi", timeout=10)).text == "echo: hi"
    for agent_id in ids:
        assert (await b.ask(agent_id, "yo", timeout=10)).text == "echo: yo"
    with pytest.raises(AgentExists):
        await b.spawn(Agent, id="solo-1")  # a live node holds it
    history = await b.history("solo-1")
    assert [m.text for m in history if m.role != "system"] == ["hi", "echo: hi"]
    stream = b.stream("solo-1", "more", timeout=10)
    assert "".join([d async for d in stream]) == "echo: more"
    with pytest.raises(AgentError):  # no node has it and no route names it
        await b.ask("nobody-1", "hi", timeout=10)


@dataclass
class Point:
    x: int
    y: int


class Calc(Agent):
    """Answers plain calls and casts (a remote node reaches it through the wire codec)."""

    notes: ClassVar[list[Any]] = []

    async def handle_call(self, msg: Any, caller: Any) -> Any:
        if isinstance(msg, dict) and msg.get("op") == "echo":
            return {"got": msg["v"], "here": type(msg).__name__}
        if msg == {"op": "notes"}:
            return list(Calc.notes)
        if msg == {"op": "opaque"}:
            return object()  # a reply that cannot cross nodes
        if msg == {"op": "fail"}:
            raise ValueError("bad value 7")
        if msg == {"op": "slow"}:
            await asyncio.sleep(0.5)  # past the caller's 0.2 s, whatever the load
            return "late"
        return await super().handle_call(msg, caller)

    async def handle_cast(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("op") == "note":
            Calc.notes.append(msg["v"])
            return
        await super().handle_cast(msg)


async def test_plain_calls_and_casts_cross_nodes_as_plain_data(
    pair: tuple[Runtime, Runtime],
) -> None:
    a, b = pair
    await a.spawn(Calc, id="calc-1")
    sent = {"op": "echo", "v": [1, 2.5, "é", b"\x00raw", None, True, (3, 4), Point(1, 2)]}
    back = await b.call("calc-1", sent, timeout=10)
    # plain data on the far side: a tuple as a list, a dataclass as a dict of its fields
    assert back == {"got": [1, 2.5, "é", b"\x00raw", None, True, [3, 4], {"x": 1, "y": 2}],
                    "here": "dict"}  # fmt: skip
    assert b.directory.local("calc-1") is None  # it ran on a, not here
    await b.cast("calc-1", {"op": "note", "v": 5})
    assert await b.call("calc-1", {"op": "notes"}, timeout=10) == [5]
    with pytest.raises(UnsupportedPayload, match="Point2"):  # refused before sending
        await b.call("calc-1", {"op": "echo", "v": Point2()}, timeout=10)
    local = await a.call("calc-1", {"op": "echo", "v": Point2()}, timeout=10)  # local: as is
    assert isinstance(local["got"], Point2)
    with pytest.raises(RemoteError, match="UnsupportedPayload") as opaque:
        await b.call("calc-1", {"op": "opaque"}, timeout=10)
    assert opaque.value.type_name == "UnsupportedPayload"
    with pytest.raises(AgentNotFound):
        await b.call("nobody-1", {"op": "notes"}, timeout=10)
    with pytest.raises(RemoteError) as failed:  # it crashes the agent, as a local call would
        await b.call("calc-1", {"op": "fail"}, timeout=10)
    assert failed.value.type_name == "ActorDead"
    assert "bad value 7" in str(failed.value)
    with pytest.raises(CallTimeout):  # restarted by its supervisor, then too slow
        await b.call("calc-1", {"op": "slow"}, timeout=0.2)


class Point2:
    """Not plain data: a plain class."""


async def test_nodes_show_when_each_last_published_and_skip_damaged_load(
    pair: tuple[Runtime, Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    a, _ = pair
    node = a.directory.cluster  # type: ignore[attr-defined]
    client = node._client
    before = time.time()
    await eventually(lambda: {n.node_id for n in a.directory.nodes() if n.last_seen >= before}
                     == {"a", "b"}, timeout=20)  # fmt: skip
    rows = {n.node_id: n for n in a.directory.nodes()}
    assert all(r.status == "alive" and "at" not in r.load for r in rows.values())
    assert rows["b"].load["placeable"] == 1.0
    await client.hset(node.wire.load, "ghost", b"{not json")  # damaged Redis data
    await client.hset(node.wire.load, "ghost2", b"[1, 2]")
    with caplog.at_level(logging.WARNING, logger="agentrt.cluster.node"):
        await node.tick()  # one bad entry never stops the tick
    assert "ghost" not in node.loads()
    assert "ghost2" not in node.loads()
    assert {"a", "b"} <= set(node.loads())
    assert "'ghost'" in caplog.text
    assert "damaged" in caplog.text
    await client.hdel(node.wire.load, "ghost", "ghost2")


async def test_a_redis_restart_loses_no_turn(own_redis: RedisServer) -> None:
    prefix = f"agentrt-test:{uuid.uuid4().hex[:8]}:"
    ids = [f"k-r-{i}" for i in range(6)]
    async with _node(own_redis.url, prefix, "a") as a, _node(own_redis.url, prefix, "b") as b:
        await _see_each_other(a, b)
        assert await _ask_all(a, ids, "before") == (len(ids), 0)
        own_redis.stop()
        answered, failed = await _ask_all(b, ids[:2], "during")
        assert answered + failed == 2
        own_redis.start()
        for rt in (a, b):  # told dead (the members hash is gone): each rejoins
            await eventually(lambda rt=rt: rt.directory.cluster.membership.serving, timeout=20)  # type: ignore[attr-defined]
        # each node settles on its own: a rejoined node first stops the incarnations it
        # held under its old epoch, and a turn that meets one being stopped fails
        # (AgentCrashed 'shutdown', seen at load 5): so both are waited for
        for rt in (b, a):
            await eventually(lambda rt=rt: _answers_all(rt, ids), timeout=30, what="all answer")
        assert await _ask_all(a, ids, "after") == (len(ids), 0)


async def _answers_all(rt: Runtime, ids: list[str]) -> bool:
    return await _ask_all(rt, ids, "probe") == (len(ids), 0)


async def test_a_node_cut_from_redis_is_replaced_and_rejoins(
    redis_url: str, redis_prefix: str
) -> None:
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    async with AsyncExitStack() as stack:
        proxy = await stack.enter_async_context(TcpProxy(port))
        cut_url = f"redis://127.0.0.1:{proxy.port}/0"
        a = await stack.enter_async_context(_node(redis_url, redis_prefix, "a"))
        b = await stack.enter_async_context(_node(cut_url, redis_prefix, "b"))
        ids = [f"k-c-{i}" for i in range(8)]
        await _see_each_other(a, b)
        assert await _ask_all(a, ids, "before") == (len(ids), 0)
        on_b = [i for i in ids if b.directory.local(i) is not None]
        assert on_b, "placement put nothing on b"
        epoch = b.directory.cluster.epoch  # type: ignore[attr-defined]
        await proxy.down()
        # b is swept dead after the TTL; a takes its agents over from their snapshots
        assert await _ask_all(a, on_b, "cut") == (len(on_b), 0)
        await proxy.up()
        await eventually(
            lambda: (
                b.directory.cluster.membership.serving  # type: ignore[attr-defined]
                and b.directory.cluster.epoch > epoch
            ),  # type: ignore[attr-defined]
            timeout=20,
            what="b rejoined with a new epoch",
        )
        assert await _ask_all(b, ids, "after") == (len(ids), 0)
        for agent_id in on_b:  # one conversation per agent: nothing lost, nothing twice
            texts = [m.text for m in await a.history(agent_id) if m.role == "user"]
            assert texts == [f"before {agent_id}", f"cut {agent_id}", f"after {agent_id}"]
