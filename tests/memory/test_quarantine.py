"""A damaged stored conversation is moved aside, never overwritten (issue 13 §7): real
SQLite on a file, real Redis, and the memory store, behind one contract."""

from __future__ import annotations

import logging

import pytest
import redis.asyncio as aioredis

from agentrt.errors import ConfigError
from agentrt.memory import (
    Conversation,
    ConversationConfig,
    CorruptSnapshot,
    DictionaryConfig,
    DictionaryRegistry,
    MemoryStore,
    RedisStore,
    Store,
)
from agentrt.memory._quarantine import QUARANTINE_PREFIX
from agentrt.messages import Message
from agentrt.testing import FlakyStore

SMALL = ConversationConfig(recent_messages=2, chunk_messages=3)
FAIL = ConversationConfig(recent_messages=2, chunk_messages=3, on_corrupt="fail")


def _registry() -> DictionaryRegistry:
    return DictionaryRegistry(DictionaryConfig(auto_train=False))


async def _stored(store: Store, key: str, n: int) -> dict[str, bytes]:
    """Write a conversation of ``n`` messages under ``key``; its records as stored."""
    conv = await Conversation.open(store, key, registry=_registry(), config=SMALL)
    for i in range(n):
        await conv.append(Message.user(f"message {i}"))
    await conv.flush()  # not aclose: its compaction would fold the log records into the head
    keys = await store.keys(f"{key}/")
    return await store.get_many(keys)


async def test_keys_and_rename_many_move_values_as_stored(store: Store) -> None:
    await store.put("a/1", b"one")
    await store.put("a/2", b"two", ttl=3600)
    await store.put("b/1", b"other")
    await store.put("a*/x", b"glob")  # a prefix is not a pattern
    assert sorted(await store.keys("a/")) == ["a/1", "a/2"]
    await store.rename_many({"a/1": "q/a/1", "a/2": "q/a/2", "a/none": "q/a/none"})
    assert await store.get_many(["a/1", "a/2", "q/a/1", "q/a/2", "q/a/none"]) == {
        "q/a/1": b"one",
        "q/a/2": b"two",
    }
    assert sorted(await store.keys("q/")) == ["q/a/1", "q/a/2"]


async def test_damaged_records_are_quarantined_not_overwritten(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    before = await _stored(store, "agent/a", 8)  # head, chunks and log records
    neighbour = await _stored(store, "agent/a/b", 4)  # an agent whose id starts "a/"
    assert any("/c/" in k for k in before)
    assert any("/m/" in k for k in before)
    await store.put("agent/a/c/0", b"\x00damaged")  # a damaged chunk among good keys
    before["agent/a/c/0"] = b"\x00damaged"
    with caplog.at_level(logging.ERROR, "agentrt.memory.quarantine"):
        conv = await Conversation.open(store, "agent/a", registry=_registry(), config=SMALL)
    moved = conv.quarantined
    assert moved is not None
    assert moved.records == len(before)
    assert moved.to.startswith(f"{QUARANTINE_PREFIX}agent/a/")
    assert "agent/a/c/0" in moved.reason
    assert len(conv) == 0  # started fresh...
    for i in range(8):  # ...and its new records overwrite nothing of the old ones
        await conv.append(Message.user(f"new {i}"))
    await conv.aclose()
    kept = await store.get_many([moved.to + k[len("agent/a/") :] for k in before])
    assert sorted(kept.values()) == sorted(before.values())  # every byte, damaged included
    assert await store.get_many(list(neighbour)) == neighbour  # the neighbour untouched
    [record] = [r for r in caplog.records if r.name == "agentrt.memory.quarantine"]
    assert record.quarantine_key == moved.to  # type: ignore[attr-defined]
    assert record.records == len(before)  # type: ignore[attr-defined]


async def test_on_corrupt_fail_raises_and_touches_nothing(store: Store) -> None:
    before = await _stored(store, "agent/f", 5)
    await store.put("agent/f/head", b"garbage")
    before["agent/f/head"] = b"garbage"
    with pytest.raises(CorruptSnapshot, match="agent/f/head"):
        await Conversation.open(store, "agent/f", registry=_registry(), config=FAIL)
    assert await store.get_many(list(before)) == before
    assert await store.keys(QUARANTINE_PREFIX) == []


async def test_a_store_that_cannot_quarantine_fails_instead() -> None:
    class OldStore(MemoryStore):  # a custom store written before keys/rename_many
        keys = None  # type: ignore[assignment]

    store = OldStore()
    await store.put("agent/x/head", b"garbage")
    with pytest.raises(CorruptSnapshot):
        await Conversation.open(store, "agent/x", registry=_registry())
    assert await store.get("agent/x/head") == b"garbage"


async def test_a_store_failing_during_quarantine_loses_nothing() -> None:
    store = FlakyStore()
    await store.put("agent/y/head", b"garbage")
    original = store.rename_many

    async def down(renames: object) -> None:
        store.down = True
        await original(renames)  # type: ignore[arg-type]

    store.rename_many = down  # type: ignore[method-assign]
    with pytest.raises(Exception, match="down"):
        await Conversation.open(store, "agent/y", registry=_registry())
    store.down = False
    assert await store.get("agent/y/head") == b"garbage"


def test_on_corrupt_is_checked() -> None:
    with pytest.raises(ConfigError, match="on_corrupt"):
        ConversationConfig(on_corrupt="delete")  # type: ignore[arg-type]


async def test_redis_quarantine_keys_live_under_the_store_prefix(
    redis_url: str, redis_prefix: str
) -> None:
    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        await store.put("agent/r/head", b"garbage")
        conv = await Conversation.open(store, "agent/r", registry=_registry())
        assert conv.quarantined is not None
        await conv.aclose()
    finally:
        await store.aclose()
    client = aioredis.Redis.from_url(redis_url)
    try:
        raw = [k.decode() async for k in client.scan_iter(match=f"{redis_prefix}quarantine/*")]
    finally:
        await client.aclose()
    assert raw == [f"{redis_prefix}{conv.quarantined.to}head"]
