"""Fenced writes on the real Redis: ``RedisStore.put_many_fenced`` and a ``Journal`` with a
fence, write-through and write-behind, before and after another node takes the agent."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from support.waiting import eventually

from agentrt.cluster import ClusterKeys, ClusterScripts
from agentrt.errors import ConfigError, InvalidArgument
from agentrt.memory import (
    Conversation,
    DictionaryRegistry,
    DurabilityConfig,
    Fence,
    MemoryStore,
    StaleWrite,
    StoreError,
)
from agentrt.memory._durability import Journal
from agentrt.memory._epoch import FENCED_EPOCH, new_epoch
from agentrt.memory.stores import RedisStore
from agentrt.messages import Message


@dataclass
class Agent:
    """One agent's directory entry and the store its state lives in."""

    scripts: ClusterScripts
    store: RedisStore
    tag: str  # the start of its state keys: same hash slot as its entry

    async def claim(self, node: str, epoch: int, dead: tuple[str, int] | None = None) -> Fence:
        claim = await self.scripts.claim("a-1", node, epoch, dead=dead)
        assert claim.won
        return Fence(key=self.scripts.keys.agent_dir("a-1"), token=claim.token)


@pytest.fixture
async def agent(redis_url: str, redis_prefix: str) -> AsyncIterator[Agent]:
    client = aioredis.Redis.from_url(redis_url)
    keys = ClusterKeys(redis_prefix + "cl:")
    store = RedisStore(redis_url, prefix=redis_prefix + "mem:")
    yield Agent(ClusterScripts(client, keys), store, keys.agent_tag("a-1"))
    await store.aclose()
    await client.aclose()


async def test_a_stale_fence_writes_nothing_and_raises(agent: Agent) -> None:
    store, head, log = agent.store, agent.tag + "head", agent.tag + "m/0"
    old = await agent.claim("n1", 1)
    await store.put_fenced(head, b"v1", old)
    await store.put_many_fenced({log: b"m0"}, old, ttl=60)
    new = await agent.claim("n2", 2, dead=("n1", 1))
    with pytest.raises(StaleWrite) as info:
        await store.put_many_fenced({head: b"stale"}, old, delete=[log])
    assert isinstance(info.value, StoreError)
    assert (info.value.key, info.value.token, info.value.current) == (head, 1, 2)
    assert await store.get_many([head, log]) == {head: b"v1", log: b"m0"}
    await store.put_many_fenced({head: b"v2"}, new, delete=[log])
    assert await store.get_many([head, log]) == {head: b"v2"}
    await store.put_many_fenced({}, new)  # nothing to do: no round trip, no error
    assert store.stats()["errors"] == 1


def test_a_fence_checks_its_fields() -> None:
    for kw, name in (
        ({"key": "", "token": 1}, "key"),
        ({"key": "k", "token": -1}, "token"),
        ({"key": "k", "token": True}, "token"),
    ):
        with pytest.raises(InvalidArgument, match=name):
            Fence(**kw)  # type: ignore[arg-type]


def test_a_store_without_fenced_writes_refuses_a_fence() -> None:
    with pytest.raises(ConfigError, match="fence"):
        Journal(MemoryStore(), fence=Fence(key="k", token=1))


async def test_write_through_is_fenced_out_after_a_takeover(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    key = agent.tag + "head"
    journal = Journal(agent.store, fence=await agent.claim("n1", 1))
    await journal.put(key, b"v1")
    await agent.claim("n2", 2, dead=("n1", 1))
    with pytest.raises(StaleWrite):
        await journal.put(key, b"stale")
    with pytest.raises(StaleWrite):  # fenced out for good: no round trip to learn it
        await journal.delete(key)
    assert await agent.store.get(key) == b"v1"
    assert journal.stats()["fenced_out_writes"] == 1
    assert any("fenced out" in r.getMessage() for r in caplog.records)


async def test_a_write_behind_flush_after_a_takeover_is_refused_and_not_retried(
    agent: Agent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="agentrt.memory.durability")
    head, log = agent.tag + "head", agent.tag + "m/0"
    config = DurabilityConfig(mode="write_behind", max_delay=0.001)
    journal = Journal(agent.store, config, fence=await agent.claim("n1", 1))
    await journal.put(head, b"v1")
    await journal.flush()
    await agent.claim("n2", 2, dead=("n1", 1))  # the flush below started with token 1
    await journal.put_many({head: b"stale", log: b"stale"})
    await journal.delete(agent.tag + "other")
    await eventually(lambda: journal.stats()["fenced_out_writes"] == 3, what="flush refused")
    await eventually(lambda: journal._task is None, what="the flush task ended (no retry)")
    assert journal.pending == 0
    assert journal.stats()["flush_failures"] == 0  # not counted as an outage
    assert await agent.store.get_many([head, log]) == {head: b"v1"}
    lines = [r.getMessage() for r in caplog.records if r.name == "agentrt.memory.durability"]
    assert len(lines) == 1
    assert "3 writes dropped (token 1, the agent's is 2 now" in lines[0]
    with pytest.raises(StaleWrite):
        await journal.put(head, b"later")
    with pytest.raises(StaleWrite):
        await journal.aclose()


async def test_without_a_fence_writes_are_plain(agent: Agent) -> None:
    key = agent.tag + "head"
    await agent.claim("n1", 5)
    journal = Journal(agent.store)
    await journal.put(key, b"v")  # no token: no check (single-node mode)
    assert await agent.store.get(key) == b"v"
    assert journal.stats()["fenced_out_writes"] == 0


def test_epochs_increase_and_a_later_token_makes_higher_ones() -> None:
    plain = [new_epoch(None) for _ in range(1_000)]
    assert plain == sorted(set(plain))
    assert all(e < FENCED_EPOCH for e in plain)
    old = [new_epoch(Fence(key="k", token=7)) for _ in range(100)]
    new = [new_epoch(Fence(key="k", token=8)) for _ in range(100)]
    assert len(set(old)) == 100
    assert min(new) > max(old) > FENCED_EPOCH
    assert all(e < 2**63 for e in new)  # fits the 8-byte field of a log record


async def test_a_fenced_conversation_stops_writing_after_a_takeover(
    agent: Agent, registry: DictionaryRegistry
) -> None:
    key = agent.tag + "conv"
    old = await agent.claim("n1", 1)
    conv = await Conversation.open(agent.store, key, registry=registry, fence=old)
    assert conv._epoch >> 20 & (2**42 - 1) == old.token  # derived from the token
    await conv.append(Message.user("hello"))
    new = await agent.claim("n2", 2, dead=("n1", 1))
    with pytest.raises(StaleWrite):
        await conv.append(Message.user("from the old owner"))
    taken = await Conversation.open(agent.store, key, registry=registry, fence=new)
    assert [m.content for m in await taken.history()] == ["hello"]
    await taken.append(Message.user("from the new owner"))
    await taken.erase()
    assert await agent.store.keys(key) == []


async def test_restore_into_a_store_under_a_fence_makes_a_fenced_epoch(
    agent: Agent, registry: DictionaryRegistry
) -> None:
    plain = Conversation(registry=registry)
    await plain.append(Message.user("hello"))
    fence = await agent.claim("n1", 1)
    restored = await Conversation.restore(
        await plain.snapshot(), registry=registry, store=agent.store, key=agent.tag + "c",
        fence=fence,
    )  # fmt: skip
    assert restored._epoch > FENCED_EPOCH
    assert restored._epoch > plain._epoch
