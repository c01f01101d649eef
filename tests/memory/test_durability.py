from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from support.waiting import eventually

from agentrt.errors import ConfigError
from agentrt.memory import (
    Conversation,
    ConversationConfig,
    DictionaryRegistry,
    DurabilityConfig,
    MemoryStore,
    StoreError,
    SummaryConfig,
)
from agentrt.memory._durability import Journal
from agentrt.messages import Message, ToolCall
from agentrt.testing import FlakyStore

from .conftest import chat


def _config(mode: str, **kw: object) -> ConversationConfig:
    durability = DurabilityConfig(mode=mode, **kw)  # type: ignore[arg-type]
    return ConversationConfig(recent_messages=3, chunk_messages=5, durability=durability)


async def test_write_through_acknowledged_means_stored(registry: DictionaryRegistry) -> None:
    store = MemoryStore()
    conv = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    for i, message in enumerate(chat(12)):
        await conv.append(message)
        reopened = await Conversation.open(
            store, "a", registry=registry, config=_config("write_through")
        )
        assert len(reopened) == i + 1  # without closing `conv`: it is already in the store
    assert sum(k.startswith("a/m/") for k in store.stored_keys()) == 12 - 5  # sealed ones dropped


async def test_write_through_failure_is_not_acknowledged(registry: DictionaryRegistry) -> None:
    store = FlakyStore()
    conv = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    await conv.append(Message.user("ok"))
    store.down = True
    with pytest.raises(StoreError):
        await conv.append(Message.user("lost?"))
    assert len(conv) == 1  # not added: the caller knows it was not stored
    store.down = False
    await conv.aclose()


async def test_write_through_extend_is_one_write_all_or_none(
    registry: DictionaryRegistry,
) -> None:
    # a turn's assistant tool call and its results: journaled together, never one alone
    store = FlakyStore()
    conv = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    call = ToolCall("c1", "weather", "{}")
    pair = [Message.assistant("", tool_calls=(call,)), Message.tool_result("c1", "sunny")]
    store.down = True
    with pytest.raises(StoreError):
        await conv.extend(pair)
    assert len(conv) == 0
    store.down = False
    before = store.timings.view()["put_many"]["count"]
    await conv.extend(pair)
    assert store.timings.view()["put_many"]["count"] == before + 1
    reopened = await Conversation.open(
        store, "a", registry=registry, config=_config("write_through")
    )
    assert await reopened.history() == pair
    await conv.aclose()


async def test_write_behind_batches_and_flushes_on_close(registry: DictionaryRegistry) -> None:
    store = MemoryStore()
    config = _config("write_behind", max_delay=30.0)
    conv = await Conversation.open(store, "a", registry=registry, config=config)
    messages = chat(17)
    await conv.extend(messages)
    assert conv.stats().pending_writes > 0
    assert not [k for k in store.stored_keys() if k.startswith("a/m/")]  # nothing written yet
    assert await conv.history() == messages  # buffered writes are readable
    await conv.aclose()
    assert conv.stats().pending_writes == 0
    again = await Conversation.open(store, "a", registry=registry, config=config)
    assert await again.history() == messages
    await again.aclose()
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_write_behind_flushes_within_max_delay(registry: DictionaryRegistry) -> None:
    store = MemoryStore()
    conv = await Conversation.open(
        store, "a", registry=registry, config=_config("write_behind", max_delay=1.0)
    )
    await conv.append(Message.user("hello"))
    assert "a/m/0" not in store.stored_keys()  # 1 s: far longer than append takes
    # the flush is time-driven: wait until it lands
    await eventually(lambda: "a/m/0" in store.stored_keys(), what="the write-behind flush")
    assert conv.stats().pending_writes == 0
    await conv.aclose()


async def test_write_behind_survives_an_outage_without_losing_writes(
    registry: DictionaryRegistry,
) -> None:
    store = FlakyStore()
    config = _config("write_behind", max_delay=0.001, max_batch=4, max_pending=64)
    conv = await Conversation.open(store, "a", registry=registry, config=config)
    store.down = True
    messages = chat(30)
    await conv.extend(messages)  # accepted while the store is down
    while store.failures < 2:  # the flush task keeps retrying with backoff
        await asyncio.sleep(0.005)
    with pytest.raises(StoreError):
        await conv.flush()
    store.down = False
    await conv.aclose()
    again = await Conversation.open(store, "a", registry=registry, config=config)
    assert await again.history() == messages
    await again.aclose()


async def test_write_behind_backpressure_surfaces_the_outage() -> None:
    store = FlakyStore()
    journal = Journal(
        store, DurabilityConfig(mode="write_behind", max_batch=2, max_pending=4, max_delay=10)
    )
    store.down = True
    for i in range(3):
        await journal.put(f"k{i}", b"v")
    with pytest.raises(StoreError):
        await journal.put("k3", b"v")  # the bound is reached: the writer waits for a flush
    assert journal.pending == 4
    assert journal.stats()["flush_failures"] >= 1
    store.down = False
    await journal.aclose()
    assert sorted(store.stored_keys()) == ["k0", "k1", "k2", "k3"]


async def test_journal_keeps_write_order_of_rewrites_and_deletes() -> None:
    store = MemoryStore()
    journal = Journal(store, DurabilityConfig(mode="write_behind", max_delay=10))
    await journal.put("x", b"1")
    await journal.delete("x")
    await journal.put("x", b"2")
    await journal.put("y", b"3")
    await journal.delete("y")
    assert await journal.read("x") == b"2"
    assert await journal.read("y") is None
    await journal.aclose()
    assert await store.get("x") == b"2"
    assert await store.get("y") is None


def test_durability_config_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"'mode'"):
        DurabilityConfig(mode="eventually")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        DurabilityConfig(max_batch=10, max_pending=5)
    with pytest.raises(ConfigError):
        DurabilityConfig(ttl=0)


async def test_concurrent_appends_get_distinct_indices(tmp_path: object) -> None:
    from pathlib import Path

    from agentrt.memory import SQLiteStore

    store = SQLiteStore(Path(str(tmp_path)) / "c.db")  # a store whose writes really suspend
    registry = DictionaryRegistry()
    conv = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    messages = chat(20)
    indices = await asyncio.gather(*(conv.append(m) for m in messages))
    assert sorted(indices) == list(range(20))
    history = await conv.history()
    assert [history[i] for i in indices] == messages
    await conv.aclose()
    again = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    assert await again.history() == history
    await store.aclose()


async def test_append_lock_survives_cancelled_waiters_and_rounds(tmp_path: object) -> None:
    """The append lock exists only while appends run (made by the first in, dropped by the
    last out): a waiter cancelled in its queue, then a second round of racing appends,
    still get distinct indices in order, and nothing is left held."""
    from pathlib import Path

    from agentrt.memory import SQLiteStore

    store = SQLiteStore(Path(str(tmp_path)) / "c.db")
    registry = DictionaryRegistry()
    conv = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    messages = chat(12)
    tasks = [asyncio.ensure_future(conv.append(m)) for m in messages[:6]]
    await asyncio.sleep(0)  # all six queued on the lock, the first one writing
    tasks[3].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[3], asyncio.CancelledError)
    assert sorted(i for i in done if isinstance(i, int)) == list(range(5))
    second = await asyncio.gather(*(conv.append(m) for m in messages[6:]))
    assert sorted(second) == list(range(5, 11))
    kept = [m for n, m in enumerate(messages) if n != 3]
    indices = [*(i for i in done if isinstance(i, int)), *second]
    by_index = dict(zip(indices, kept, strict=True))
    assert await conv.history() == [by_index[i] for i in range(11)]
    await conv.aclose()
    again = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    assert len(again) == 11
    await again.aclose()
    await store.aclose()


async def test_aclose_lets_an_append_in_flight_finish(tmp_path: object) -> None:
    from pathlib import Path

    from agentrt.memory import ConversationClosed, SQLiteStore

    store = SQLiteStore(Path(str(tmp_path)) / "c.db")
    registry = DictionaryRegistry()
    conv = await Conversation.open(store, "a", registry=registry, config=_config("write_through"))
    first = asyncio.create_task(conv.append(Message.user("in flight")))
    queued = asyncio.create_task(conv.append(Message.user("queued")))
    await asyncio.sleep(0)  # both started: the first holds the lock, the second waits
    await conv.aclose()
    assert await first == 0
    with pytest.raises(ConversationClosed):
        await queued
    again = await Conversation.open(store, "a", registry=registry)
    assert await again.history() == [Message.user("in flight")]
    await store.aclose()
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda v: DurabilityConfig(retry_max=v), "retry_max"),
        (lambda v: DurabilityConfig(max_delay=v), "max_delay"),
        (lambda v: DurabilityConfig(ttl=v), "ttl"),
        (lambda v: DurabilityConfig(max_pending=v), "max_pending"),
        (lambda v: SummaryConfig(timeout=v), "timeout"),
        (lambda v: SummaryConfig(retry_max=v), "retry_max"),
        (lambda v: ConversationConfig(recent_messages=v), "recent_messages"),
        (lambda v: ConversationConfig(resident_chunks=v), "resident_chunks"),
    ],
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, True, "5", 1e300])
def test_memory_numbers_are_bounded_naming_the_key(
    make: Callable[[object], object], key: str, bad: object
) -> None:
    # NaN and a negative retry_max were accepted, then a write-behind flush slept nan or
    # crashed; 1e300 s overflowed the event loop's timer
    with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
        make(bad)


def test_a_bad_durability_number_in_a_file_names_key_and_line(tmp_path: Path) -> None:
    from agentrt.runtime import RuntimeConfig

    path = tmp_path / "agentrt.toml"
    path.write_text('[memory.durability]\nmode = "write_behind"\nretry_max = -1.0\n')
    with pytest.raises(ConfigError, match=r"'memory\.durability\.retry_max'.*agentrt\.toml:3"):
        RuntimeConfig.load(str(path))


async def test_an_outage_is_logged_once_per_journal_not_once_per_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # the chaos scenario's 5 s Redis outage wrote ~1,400 warnings for 300 conversations
    store = FlakyStore()
    journal = Journal(store, DurabilityConfig(mode="write_behind", max_delay=0, retry_max=0.01))
    caplog.set_level(logging.DEBUG, logger="agentrt.memory.durability")
    store.down = True
    await journal.put("k", b"v")
    await eventually(lambda: journal.stats()["flush_failures"] >= 4, what="four failed flushes")
    store.down = False
    await eventually(lambda: journal.pending == 0, what="the flush after the outage")
    await journal.aclose()
    records = [r for r in caplog.records if r.name == "agentrt.memory.durability"]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "kept, retried" in warnings[0].getMessage()
    assert sum(r.levelno == logging.DEBUG for r in records) >= 3  # the retries, quietly
    recovered = [r.getMessage() for r in records if r.levelno == logging.INFO]
    assert len(recovered) == 1
    assert "succeeded after" in recovered[0]
    assert store.stored_keys() == ["k"]
