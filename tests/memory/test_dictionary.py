from __future__ import annotations

import asyncio

import pytest

from agentrt.errors import ConfigError
from agentrt.memory import (
    Conversation,
    ConversationConfig,
    CorruptSnapshot,
    DictionaryConfig,
    DictionaryRegistry,
    MemoryStore,
    UnknownDictionary,
)
from agentrt.memory._codec import encode_message
from agentrt.memory._dictionary import dictionary_id
from agentrt.testing import FlakyStore

from .conftest import chat

SMALL = ConversationConfig(recent_messages=4, chunk_messages=10)


def _samples(tag: str, n: int = 400) -> list[bytes]:
    return [encode_message(m) for m in chat(n, seed=sum(map(ord, tag)))]


async def test_rotation_keeps_old_chunks_readable() -> None:
    registry = DictionaryRegistry(DictionaryConfig(auto_train=False, retrain_after_samples=10))
    conv = Conversation(registry=registry, config=SMALL)
    messages = chat(120)
    await conv.extend(messages[:40])  # sealed with plain zstd (id 0)
    registry.observe(_samples("v1"))
    first = await registry.train()
    await conv.extend(messages[40:80])
    registry.observe(_samples("v2"))
    second = await registry.train()
    await conv.extend(messages[80:])
    assert 0 < first != second == registry.current_id
    assert {c.dict_id for c in conv.chunks} == {0, first, second}
    assert await conv.history() == messages
    stats = registry.stats()
    assert (stats["dictionaries"], stats["current_version"], stats["trainings"]) == (2, 2, 2)


async def test_dictionaries_survive_a_restart_through_the_store() -> None:
    store = MemoryStore()
    config = DictionaryConfig(auto_train=False)
    registry = DictionaryRegistry(config, store=store)
    registry.observe(_samples("x"))
    trained = await registry.train()
    conv = await Conversation.open(store, "agent-1", registry=registry, config=SMALL)
    messages = chat(60)
    await conv.extend(messages)
    await conv.aclose()
    assert f"dict/{trained:08x}" in store.stored_keys()

    restarted = DictionaryRegistry(config, store=store)  # a new process
    assert await restarted.load_current() == trained
    again = await Conversation.open(store, "agent-1", registry=restarted, config=SMALL)
    assert await again.history() == messages
    blob = await again.snapshot()

    cold = DictionaryRegistry(config, store=store)  # loads only what the chunks name
    restored = await Conversation.restore(blob, registry=cold)
    assert await restored.history() == messages
    assert cold.stats()["dictionaries"] == 1


async def test_unknown_dictionary_without_store() -> None:
    trained = DictionaryRegistry(DictionaryConfig(auto_train=False))
    trained.observe(_samples("y"))
    await trained.train()
    conv = Conversation(registry=trained, config=SMALL)
    await conv.extend(chat(40))
    blob = await conv.snapshot()
    with pytest.raises(UnknownDictionary) as info:
        await Conversation.restore(blob, registry=DictionaryRegistry())
    assert info.value.dict_id == trained.current_id


async def test_corrupt_stored_dictionary_names_its_key() -> None:
    store = MemoryStore()
    registry = DictionaryRegistry(DictionaryConfig(auto_train=False), store=store)
    registry.observe(_samples("z"))
    dict_id = await registry.train()
    key = f"dict/{dict_id:08x}"
    record = bytearray((await store.get(key)) or b"")
    record[-1] ^= 0xFF
    await store.put(key, bytes(record))
    with pytest.raises(CorruptSnapshot) as info:
        await DictionaryRegistry(store=store).load_current()
    assert info.value.key == key
    await store.put("dict/current", b"junk")
    with pytest.raises(CorruptSnapshot, match="pointer"):
        await DictionaryRegistry(store=store).load_current()


async def test_auto_training_after_warm_up_runs_off_the_loop_and_is_owned() -> None:
    registry = DictionaryRegistry(DictionaryConfig(train_after_samples=100, dict_size=4096))
    conv = Conversation(registry=registry, config=SMALL)
    await conv.extend(chat(300))
    assert registry.stats()["training"]  # a task the registry owns, not the caller
    while registry.stats()["training"]:
        await asyncio.sleep(0.005)
    assert registry.current_id != 0
    assert not registry.wants_samples
    assert registry.stats()["samples"] == 0
    await conv.extend(chat(30, seed=1))
    assert conv.chunks[-1].dict_id == registry.current_id
    await conv.aclose()
    await registry.aclose()


async def test_aclose_cancels_a_training_in_flight() -> None:
    registry = DictionaryRegistry(DictionaryConfig(train_after_samples=100))
    registry.observe(_samples("w"))
    assert registry.stats()["training"]
    await registry.aclose()
    assert not registry.stats()["training"]
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


def test_ids_are_content_hashes_and_config_is_validated() -> None:
    assert dictionary_id(b"abc") == dictionary_id(b"abc") != dictionary_id(b"abd")
    assert dictionary_id(b"abc") > 0
    for bad in (
        {"level": 0},
        {"dict_size": 10},
        {"train_after_samples": 1},
        {"max_sample_bytes": 5},
    ):
        with pytest.raises(ConfigError):
            DictionaryConfig(**bad)  # type: ignore[arg-type]


def test_sample_buffer_is_bounded() -> None:
    registry = DictionaryRegistry(
        DictionaryConfig(max_sample_bytes=4096, dict_size=1024, auto_train=False)
    )
    registry.observe([b"x" * 100] * 500)
    assert registry.stats()["sample_bytes"] <= 4096
    assert registry.compress(b"hello" * 10)[0] == 0


async def test_failed_auto_training_is_retried_after_more_samples(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore()
    store.down = True  # the trained dictionary cannot be persisted: training fails
    config = DictionaryConfig(train_after_samples=200, dict_size=4096)
    registry = DictionaryRegistry(config, store=store)
    registry.observe(_samples("f", 200))
    while registry.stats()["training"]:
        await asyncio.sleep(0.001)
    assert registry.current_id == 0  # never current unless stored: chunks stay readable
    assert "dictionary training failed" in caplog.text
    registry.observe(_samples("g", 100))  # not yet due again
    assert not registry.stats()["training"]
    store.down = False
    registry.observe(_samples("h", 100))
    while registry.stats()["training"]:
        await asyncio.sleep(0.001)
    assert registry.current_id != 0
    assert f"dict/{registry.current_id:08x}" in store.stored_keys()
    await registry.aclose()
