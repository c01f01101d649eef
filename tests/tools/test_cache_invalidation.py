"""Invalidations reach every node sharing a Redis L2 (TwoLevelBackend over pub/sub): from
another process, after an outage (L1 dropped), through malformed messages (ignored), and
against an L2 read in flight (not copied into L1)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from support.cachenode import config, price, price_key
from support.waiting import eventually

from agentrt.runtime import Runtime
from agentrt.testing import RedisServer
from agentrt.tools import (
    Entry,
    MemoryBackend,
    RedisBackend,
    RedisCacheConfig,
    ResultCache,
    TwoLevelBackend,
    TwoLevelConfig,
)

NODE = str(Path(__file__).parents[1] / "support" / "cachenode.py")
LISTENER = "agentrt-cache-invalidation-listener"


def node(url: str, prefix: str, l2: type[RedisBackend] = RedisBackend) -> TwoLevelBackend:
    """A two-level backend whose Redis timeouts a loaded machine cannot reach and whose
    reconnection probes stay short (0.5 s at most)."""
    redis = RedisCacheConfig(url=url, key_prefix=prefix, op_timeout=5.0, connect_timeout=5.0)
    config = TwoLevelConfig(probe_initial=0.05, probe_max=0.5)
    return TwoLevelBackend(MemoryBackend(), l2(redis), config)


def entry(value: Any) -> Entry:
    return Entry(value, time.time(), 60.0, tags=("ns:catalog",))


def listeners() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == LISTENER and not t.done()]


class OtherNode:
    """``support/cachenode.py`` in its own process, driven line by line (every read bounded)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        assert line, "the other node exited"
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def send(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        await self.process.stdin.drain()
        return await self.read()


@pytest.fixture
async def other_node(redis_url: str, redis_prefix: str) -> AsyncIterator[OtherNode]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        NODE,
        redis_url,
        redis_prefix,
        "ns",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    other = OtherNode(process)
    try:
        yield other
    finally:
        if process.returncode is None:
            assert process.stdin is not None
            process.stdin.write(b"quit\n")
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.mark.parametrize("how", ["key", "tool", "tag"])
async def test_an_invalidation_on_one_runtime_reaches_another_process(
    redis_url: str, redis_prefix: str, other_node: OtherNode, how: str
) -> None:
    """Runtime A here, runtime B in its own process, one Redis L2: a result read on both
    and invalidated on A (by key, by tool, by tag) leaves B's L1, and B recomputes."""
    assert await other_node.read() == {"ready": True}  # B subscribed while starting
    async with Runtime(config(redis_url, redis_prefix, "ns"), tools=[price]) as rt:
        cache = rt.tools.cache
        assert cache is not None
        assert cache.backend.stats()["subscribed"]
        mine = await rt.tools.invoke("price", {"sku": how})
        assert not mine.cached
        theirs = await other_node.send(f"invoke {how}")
        assert theirs == {"cached": True, "content": mine.content}  # from L2, into B's L1
        assert await other_node.send(f"has {how}") == {"has": True}
        if how == "key":
            assert await cache.invalidate(price_key("ns", how)) is True
        elif how == "tool":
            assert await cache.invalidate_tool("price") >= 1
        else:
            assert await cache.invalidate_tag("catalog") >= 1

        async def gone() -> bool:
            return (await other_node.send(f"has {how}")) == {"has": False}

        await eventually(gone, what="B's L1 copy dropped")
        again = await other_node.send(f"invoke {how}")
        assert not again["cached"]  # B ran the tool itself
        assert again["content"] != mine.content


async def test_a_resubscription_after_an_outage_drops_the_whole_l1(
    own_redis: RedisServer, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = node(own_redis.url, redis_prefix), node(own_redis.url, redis_prefix)
    try:
        assert [await a.start(timeout=30), await b.start(timeout=30)] == [True, True]
        await a.set("ns:k", entry("v1"))
        found = await b.get("ns:k")
        assert found is not None
        assert found.value == "v1"  # from L2, now in B's L1
        assert b.l1.get_nowait("ns:k") is not None
        own_redis.stop()
        await eventually(lambda: not b.stats()["subscribed"], what="B lost its subscription")
        assert b.l1.get_nowait("ns:k") is not None  # still served while Redis is away
        own_redis.start()
        await eventually(lambda: b.stats()["subscribed"], what="B subscribed again")
        assert b.l1.get_nowait("ns:k") is None  # dropped: invalidations may have been missed
        assert b.stats()["l1_flushes"] == 1
        assert len(b.l1) == 0
        assert any("re-subscribed after a gap" in r.getMessage() for r in caplog.records)
    finally:
        await a.aclose()
        await b.aclose()
    assert listeners() == []  # no task left behind


async def test_malformed_messages_are_counted_logged_once_and_ignored(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    b = node(redis_url, redis_prefix)
    raw = aioredis.Redis.from_url(redis_url)
    try:
        assert await b.start(timeout=30)
        await b.set("ns:k", entry("v1"))
        await b.set("ns:other", entry("v2"))
        channel = redis_prefix + "invalidate"
        bad = [b"no separators", b"|key|ns:k", b"n|bogus|ns:k", b"n|key|", b"n|key|\xff\xfe"]
        for message in [*bad, b"n|tag|"]:
            await raw.publish(channel, message)
        await raw.publish(channel, b"elsewhere|key|ns:k")  # a valid one, after them all
        await eventually(lambda: b.l1.get_nowait("ns:k") is None, what="the valid message")
        stats = b.stats()
        assert stats["malformed_invalidations"] == len(bad) + 1
        assert stats["remote_invalidations"] == 1
        assert stats["subscribed"]
        assert b.l1.get_nowait("ns:other") is not None  # nothing else was dropped
        warnings = [r for r in caplog.records if "malformed invalidation" in r.getMessage()]
        assert len(warnings) == 1
        assert len(listeners()) == 1  # still listening
    finally:
        await raw.aclose()
        await b.aclose()


class GatedRedis(RedisBackend):
    """A Redis backend whose reads return only when ``gate`` opens (``read`` is set once
    the value has been read from Redis)."""

    def __init__(self, config: RedisCacheConfig) -> None:
        super().__init__(config)
        self.read = asyncio.Event()
        self.gate = asyncio.Event()

    async def get(self, key: str) -> Entry | None:
        found = await super().get(key)
        self.read.set()
        await self.gate.wait()
        return found


async def test_an_l2_read_overtaken_by_an_invalidation_is_not_kept_in_l1(
    redis_url: str, redis_prefix: str
) -> None:
    a, b = node(redis_url, redis_prefix), node(redis_url, redis_prefix, GatedRedis)
    gated = b.l2
    assert isinstance(gated, GatedRedis)
    try:
        assert [await a.start(timeout=30), await b.start(timeout=30)] == [True, True]
        await a.set("ns:k", entry("old"))
        reading = asyncio.create_task(b.get("ns:k"))
        await asyncio.wait_for(gated.read.wait(), 30)  # B holds the old value, unreturned
        assert await a.delete("ns:k")
        await eventually(lambda: b.stats()["remote_invalidations"] == 1, what="B heard it")
        gated.gate.set()
        served = await asyncio.wait_for(reading, 30)
        assert served is not None
        assert served.value == "old"  # served once...
        assert b.l1.get_nowait("ns:k") is None  # ...but not kept
        assert await b.get("ns:k") is None
    finally:
        await a.aclose()
        await b.aclose()


async def test_l1_written_before_the_first_subscription_is_dropped_then(
    redis_url: str, redis_prefix: str
) -> None:
    b = node(redis_url, redis_prefix)
    try:
        await b.set("ns:k", entry("v"))  # starts the listener; not subscribed yet
        await eventually(lambda: b.stats()["subscribed"], what="subscribed")
        assert b.l1.get_nowait("ns:k") is None  # it may have missed an invalidation
        assert b.stats()["l1_flushes"] == 1
        await b.set("ns:k", entry("v"))
        assert b.l1.get_nowait("ns:k") is not None  # kept once subscribed
    finally:
        await b.aclose()


async def test_start_is_bounded_without_redis_and_stops_cleanly() -> None:
    dead = RedisCacheConfig(url="redis://127.0.0.1:1/0", op_timeout=0.2, connect_timeout=0.2)
    cache = ResultCache(TwoLevelBackend(MemoryBackend(), RedisBackend(dead)), namespace="ns")
    assert await cache.start(timeout=0.3) is False  # the listener keeps trying
    assert len(listeners()) == 1
    await cache.aclose()
    assert listeners() == []
    assert await ResultCache(MemoryBackend(), namespace=uuid.uuid4().hex).start() is True


class _SwallowsCancel(RedisBackend):
    """A bus whose read swallows the cancel, as a Redis read once did in CI (aclose then
    waited on the listener for ever)."""

    async def messages(self, channel: str) -> AsyncIterator[bytes]:
        yield b""  # subscribed
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                pass  # swallowed
            yield b""  # idle


async def test_aclose_ends_a_listener_whose_read_swallowed_the_cancel(
    redis_url: str, redis_prefix: str
) -> None:
    b = node(redis_url, redis_prefix, _SwallowsCancel)
    assert await b.start(timeout=30)
    async with asyncio.timeout(30):  # for ever without the closed check
        await b.aclose()
    assert listeners() == []
