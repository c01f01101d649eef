"""The memory benchmark's real-text mode: short public-chat-like conversations.

``python -m loadtest.bench.memory --real-text [--quick] [--json]`` runs it. The corpus is
:mod:`loadtest.bench.chat_realtext` (median 6 messages, no system prompt, no tools, 30%
non-English). Everything below comes from one run:

- **Training.** The runtime's registry (default ``DictionaryConfig``: 256 KiB dictionary,
  trained after 2,000 samples) learns from *training* conversations (seeds 10,000+)
  appended to ordinary conversations: every appended message is offered as a sample, no
  chunk is sealed. The peer dictionary is ``zstandard.train_dictionary`` of the same size
  (its defaults) on the same 2,000 training messages, as JSON.
- **Stored bytes** of *test* conversations (seeds 1+, never trained on), short (drawn
  lengths, median 6) and long (2,000 messages) separately: the JSON a user would store
  (``json.dumps`` of the list of ``{"role", "content"}`` dicts, ``ensure_ascii=False``,
  UTF-8), agentrt's ``Conversation.snapshot()``, the conversation's record after close in
  a ``MemoryStore`` (its compacted head), and the JSON compressed by zstd without a
  dictionary and with the peer dictionary, each at the registry's chunk level (3) and its
  snapshot level (6). ``ratio`` = JSON bytes / those bytes, summed over the
  conversations.
- **Resident bytes** of an active 6-message conversation, ``tracemalloc`` side by side:
  the plain list of dicts (``json.loads``), the same messages as
  :class:`~agentrt.messages.Message` objects, those after msgpack encoding (CPython caches
  a UTF-8 copy of each non-ASCII string), a ``Conversation`` holding them (no store; it
  encodes nothing once the dictionary is trained, and its journal's encoding caches no
  UTF-8 copy), and that conversation after its messages were encoded by msgspec as an
  LLM request does (``agentrt_encoded``), beside the plain list so encoded
  (``plain_encoded``), and the conversation an agent holds: opened on a store
  (``agentrt_stored``: a ``RedisStore``, write-through, the agent's default durability;
  its records live in Redis, so what stays in the process is the conversation with its
  journal). ``breakdown``: ``message_objects_over_dicts`` +
  ``conversation_bookkeeping`` (conversation - messages) = agentrt - plain;
  ``utf8_copies`` = encoded - messages.
- **Passivated**: the bytes a passivated agent with a 6-message conversation leaves in a
  runtime whose store is the default in-process ``MemoryStore`` (``tracemalloc`` around
  spawning, seeding and passivating the agents, after ``gc.collect()``), and how much of
  that is the stored record itself (with SQLite or Redis it leaves the process); the
  call-timeout wheel's slots still pending from the seeding and passivating calls are
  not counted, but reported beside it (``call_timers``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import zstandard

from agentrt.actor import NodeConfig
from agentrt.memory import Conversation, DictionaryRegistry, MemoryStore, RedisStore, Store
from agentrt.messages import Message
from agentrt.runtime import AgentsConfig, Runtime, RuntimeConfig
from loadtest.bench.agents import BenchAgent
from loadtest.bench.chat_realtext import chats
from loadtest.bench.measure import local_redis

__all__ = ["held_bytes", "real_text"]

_ENC = msgspec.msgpack.Encoder()
_DEC = msgspec.msgpack.Decoder(list[Message])
_JSON = msgspec.json.Encoder()


def _json(messages: list[Message]) -> bytes:
    plain = [{"role": m.role, "content": m.content} for m in messages]
    return json.dumps(plain, ensure_ascii=False).encode()


async def _train(registry: DictionaryRegistry, train: list[list[Message]]) -> None:
    for messages in train:
        conv = Conversation(registry=registry)
        await conv.extend(messages)
        await conv.aclose()
        if registry.current_id:
            break
    while registry.stats()["training"]:
        await asyncio.sleep(0.01)


async def _stored(
    registry: DictionaryRegistry,
    convs: list[list[Message]],
    peers: dict[str, zstandard.ZstdCompressor],
) -> dict[str, Any]:
    store = MemoryStore()
    sizes = dict.fromkeys(["json", "agentrt_snapshot", "agentrt_at_rest", *peers], 0)
    for n, messages in enumerate(convs):
        text = _json(messages)
        conv = await Conversation.open(store, f"c/{n}", registry=registry)
        await conv.extend(messages)
        sizes["agentrt_snapshot"] += len(await conv.snapshot())
        await conv.aclose()
        records = await store.get_many(await store.keys(f"c/{n}/"))
        sizes["agentrt_at_rest"] += sum(len(v) for v in records.values())
        sizes["json"] += len(text)
        for name, peer in peers.items():
            sizes[name] += len(peer.compress(text))
    out: dict[str, Any] = {
        "conversations": len(convs),
        "median_messages": statistics.median(len(c) for c in convs),
        "bytes": {k: round(v / len(convs)) for k, v in sizes.items()},
        "ratio": {k: round(sizes["json"] / v, 2) for k, v in sizes.items() if k != "json"},
    }
    return out


def held_bytes(build: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[tuple[int, Any]]]:
    """``build`` wrapped to return ``(bytes it left allocated, its result)``:
    ``tracemalloc`` around it, after ``gc.collect()`` on both sides."""

    async def measure() -> tuple[int, Any]:
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        obj = await build()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return after - before, obj

    return measure


async def _resident(
    registry: DictionaryRegistry, convs: list[list[Message]], store: Store
) -> dict[str, Any]:
    names = ("plain", "plain_encoded", "messages", "encoded", "agentrt", "agentrt_encoded")
    warm = await Conversation.open(store, "bench/realtext/warm", registry=registry)
    await warm.append(Message.user("connect before measuring"))  # the pool's connection
    await warm.erase()
    await warm.aclose()
    figures: dict[str, list[int]] = {k: [] for k in names}
    keep: list[Any] = []
    for messages in convs:
        text = _json(messages)
        packed = _ENC.encode(messages)

        async def plain(text: bytes = text) -> Any:
            return json.loads(text)

        async def plain_encoded(text: bytes = text) -> Any:
            loaded = json.loads(text)
            _JSON.encode(loaded)  # the peer's LLM request encodes its strings too
            return loaded

        async def objects(packed: bytes = packed) -> Any:
            return _DEC.decode(packed)

        async def encoded(packed: bytes = packed) -> Any:
            decoded = _DEC.decode(packed)
            for m in decoded:
                _ENC.encode(m)  # CPython caches the UTF-8 form of non-ASCII strings
            return decoded

        async def agentrt(packed: bytes = packed) -> Any:
            conv = Conversation(registry=registry)
            for m in _DEC.decode(packed):
                await conv.append(m)
            return conv

        async def agentrt_encoded(packed: bytes = packed) -> Any:
            conv = await agentrt(packed)
            _JSON.encode(conv.context(100_000))  # what an LLM request's encoding leaves
            return conv

        for name, build in (
            ("plain", plain),
            ("plain_encoded", plain_encoded),
            ("messages", objects),
            ("encoded", encoded),
            ("agentrt", agentrt),
            ("agentrt_encoded", agentrt_encoded),
        ):
            size, obj = await held_bytes(build)()
            figures[name].append(size)
            keep.append(obj)  # freed after all measures: no reuse of freed blocks between
    for obj in keep:
        if isinstance(obj, Conversation):
            await obj.aclose()
    out: dict[str, Any] = {k: round(statistics.mean(v)) for k, v in figures.items()}
    out["agentrt_stored"] = await _stored_resident(registry, convs, store)
    out["agentrt_over_plain"] = round(out["agentrt"] / out["plain"], 3)
    out["agentrt_stored_over_plain"] = round(out["agentrt_stored"] / out["plain"], 3)
    out["agentrt_encoded_over_plain_encoded"] = round(
        out["agentrt_encoded"] / out["plain_encoded"], 3
    )
    out["breakdown"] = {  # sums to agentrt - plain
        "message_objects_over_dicts": out["messages"] - out["plain"],
        "conversation_bookkeeping": out["agentrt"] - out["messages"],
    }
    # what encoding the messages (an LLM request) adds, on either side
    out["utf8_copies"] = out["encoded"] - out["messages"]
    return out


async def _stored_resident(
    registry: DictionaryRegistry, convs: list[list[Message]], store: Store
) -> int:
    """Mean bytes an agent's conversation (opened on ``store``, the messages appended)
    leaves allocated: one ``tracemalloc`` window around all of ``convs``. Per conversation
    windows would count the client's reallocated read buffers (allocated before a window
    opens, their frees are not seen) as the conversation's."""
    packed = [_ENC.encode(messages) for messages in convs]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = []
    for n, data in enumerate(packed):
        conv = await Conversation.open(store, f"bench/realtext/{n}", registry=registry)
        for message in _DEC.decode(data):
            await conv.append(message)
        held.append(conv)
    gc.collect()
    size = tracemalloc.get_traced_memory()[0] - before - sys.getsizeof(held)
    tracemalloc.stop()
    for conv in held:
        await conv.erase()
        await conv.aclose()
    return round(size / len(held))


async def _resident_on_redis(
    registry: DictionaryRegistry, convs: list[list[Message]]
) -> dict[str, Any]:
    async with local_redis() as url:
        store = RedisStore(url, prefix=f"agentrt:bench:realtext:{os.getpid()}:")
        try:
            return await _resident(registry, convs, store)
        finally:
            await store.aclose()


def _timer_bytes(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    """Bytes of the diff allocated under the call-timeout wheel (``actor/_deadlines.py``):
    the slots of the calls that seeded and passivated the agents, freed when those calls'
    timeouts pass (30 s at most), whatever the agents hold."""
    diff = after.compare_to(before, "traceback")
    wheel = ("_deadlines.py",)
    return sum(
        d.size_diff for d in diff if any(frame.filename.endswith(wheel) for frame in d.traceback)
    )


async def _passivated(train: list[list[Message]], convs: list[list[Message]]) -> dict[str, Any]:
    """Bytes a passivated agent with a short conversation leaves in the process: a runtime
    with its default in-process ``MemoryStore`` (so the stored record is resident too),
    its registry pre-trained with ``train(samples)``; agents seeded, then passivated.

    ``resident_per_agent`` is everything ``tracemalloc`` sees allocated and kept (after
    ``gc.collect()``) except the call-timeout wheel's pending slots (``call_timers``,
    reported beside it: they belong to the calls, not the agents, and go when the calls'
    timeouts pass); ``store_record_bytes`` is the length of the stored record (the
    ``MemoryStore``'s byte count); ``resident_without_store`` is the difference, what
    stays with SQLite or Redis as the store: the agent's id, directory slot, packed stats
    and the ``MemoryStore``'s key and entry."""
    config = RuntimeConfig(
        node=NodeConfig(watchdog=False), agents=AgentsConfig(idle_timeout_s=None)
    )
    async with Runtime(config) as rt:
        await rt.services.dictionaries.train(m.content for c in train for m in c)
        for warm in range(2):  # one-time allocations (class caches, first slot) first
            await rt.spawn(BenchAgent, id=f"warm-{warm}")
            await rt.call(f"warm-{warm}", ("seed", convs[0]))
            await rt.passivate(f"warm-{warm}")
        packed = [_ENC.encode(c) for c in convs]  # seeded with fresh copies: the agents'
        gc.collect()  # encoding must not leave UTF-8 caches on strings this bench keeps
        tracemalloc.start(8)  # frames enough to see an allocation made for the wheel
        first = tracemalloc.take_snapshot()
        before = tracemalloc.get_traced_memory()[0]
        stored = rt.store.stats()["bytes"]
        for n, data in enumerate(packed):
            await rt.spawn(BenchAgent, id=f"p-{n}")
            await rt.call(f"p-{n}", ("seed", _DEC.decode(data)))
            assert await rt.passivate(f"p-{n}")
        gc.collect()
        total = tracemalloc.get_traced_memory()[0] - before
        timers = _timer_bytes(first, tracemalloc.take_snapshot())
        tracemalloc.stop()
        held = (total - timers) / len(convs)
        stored = (rt.store.stats()["bytes"] - stored) / len(convs)
        passivated = rt.stats()["agents"]["passivated"]
    return {
        "agents": passivated - 2,
        "json_bytes": round(statistics.mean(len(_json(c)) for c in convs)),
        "resident_per_agent": round(held),
        "store_record_bytes": round(stored),
        "resident_without_store": round(held - stored),
        "call_timers": round(timers / len(convs)),
    }


async def real_text(quick: bool) -> dict[str, Any]:
    """The real-text figures (see the module docstring)."""
    registry = DictionaryRegistry()
    train = chats(10_000, 1_500)
    await _train(registry, train)
    size = registry.config.dict_size
    seen = registry.config.train_after_samples  # the messages the registry sampled
    samples = [_json([m]) for c in train for m in c][:seen]
    peer_dict = zstandard.train_dictionary(size, samples)
    peers = {}
    for level in sorted({registry.config.level, registry.config.snapshot_level}):
        peers[f"zstd_l{level}"] = zstandard.ZstdCompressor(level=level, write_checksum=False)
        peers[f"zstd_dict_l{level}"] = zstandard.ZstdCompressor(
            level=level, dict_data=peer_dict, write_checksum=False
        )
    short = chats(1, 100 if quick else 1_000)
    long = chats(5_000, 1 if quick else 3, 2_000)
    six = [c for c in chats(20_000, 400) if len(c) == 6][: 4 if quick else 50]
    stats = registry.stats()
    return {
        "dictionary": {
            "dict_size": size,
            "samples_before_training": registry.config.train_after_samples,
            "trainings": stats["trainings"],
            "peer_samples": len(samples),
        },
        "corpus": {
            "user_chars_p50": statistics.median(
                len(m.content) for c in short for m in c if m.role == "user"
            ),
            "assistant_chars_p50": statistics.median(
                len(m.content) for c in short for m in c if m.role == "assistant"
            ),
        },
        "short": await _stored(registry, short, peers),
        "long": await _stored(registry, long, peers),
        "resident_6_messages": await _resident_on_redis(registry, six),
        "passivated_6_messages": await _passivated(train[:400], six),
    }
