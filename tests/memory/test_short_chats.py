"""Short conversations (issue 15 §1): dictionaries trained from sampled message text,
snapshots compressed with them and naming their version, compaction at close, the
history iterator and the store listing."""

from __future__ import annotations

import random
from typing import Literal

import pytest
from support.agents import Chatty, fast_config
from support.waiting import eventually

from agentrt.errors import ArgumentTypeError, ConfigError
from agentrt.memory import (
    Conversation,
    ConversationConfig,
    CorruptSnapshot,
    DictionaryConfig,
    DictionaryRegistry,
    DurabilityConfig,
    MemoryStore,
    Store,
    UnknownDictionary,
    list_conversations,
)
from agentrt.memory._quarantine import QUARANTINE_PREFIX
from agentrt.memory._snapshot import snapshot_dictionary
from agentrt.messages import Message
from agentrt.runtime import Runtime

from .conftest import chat

SMALL = ConversationConfig(recent_messages=2, chunk_messages=3)
# fmt: off
_WORDS = [
    "the", "order", "service", "answers", "slowly", "since", "yesterday", "could", "you",
    "check", "database", "pool", "please", "thanks", "restart", "cache", "deploy",
    "rollback", "latency", "error", "timeout", "invoice", "page", "user", "why", "does",
    "this", "query", "take", "so", "long", "add", "an", "index", "merci", "danke",
    "gracias", "谢谢", "ありがとう",
]
# fmt: on

# Written by the previous release (snapshot format 1): Conversation.snapshot() of five
# messages (three sealed into a chunk with no dictionary), system "be brief", epoch 7.
V1_SNAPSHOT = bytes.fromhex(
    "41475254434f4e5601000000b320722f15960782a4726f6c65a673797374656da7636f6e74656e74a862"
    "65206272696566c09195000300574b91c44b28b52ffd205715020044039382a4726f6c65a475736572a7"
    "636f6e74656e74a868c3a96c6c6f2031a9617373697374616e746920e29c852032a57468726565040040"
    "38000c43d446fd309d9282a4726f6c65a9617373697374616e74a7636f6e74656e74a4666f757282a472"
    "6f6c65a475736572a7636f6e74656e74ab6669766520e697a5e69cac"
)
# The same five messages appended to Conversation.open(store, "old", system="sys") by the
# previous release and closed: its head (format 1), chunk and message-log records.
V1_RECORDS = {
    "old/head": "41475254434f4e56010000002de929081e96cf2610745909260fd782a4726f6c65a67379737465"
    "6da7636f6e74656e74a3737973c09195000300574b9090",
    "old/c/0": "4147430128b52ffd205715020044039382a4726f6c65a475736572a7636f6e74656e74a868c3a96c"
    "6c6f2031a9617373697374616e746920e29c852032a5746872656504004038000c43d446fd309d",
    "old/m/3": "41474d012610745909260fd782a4726f6c65a9617373697374616e74a7636f6e74656e74a4666f7572",
    "old/m/4": "41474d012610745909260fd782a4726f6c65a475736572a7636f6e74656e74ab6669766520e697"
    "a5e69cac",
}
V1_MESSAGES = [
    Message.user("héllo 1"),
    Message.assistant("hi ✅ 2"),
    Message.user("three"),
    Message.assistant("four"),
    Message.user("five 日本"),
]


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(_WORDS, k=rng.randint(8, 40))) for _ in range(n)]


def _short_chat(seed: int) -> list[Message]:
    texts = _texts(6, seed)
    return [Message.user(t) if i % 2 == 0 else Message.assistant(t) for i, t in enumerate(texts)]


def _registry(store: Store | None = None, **options: int) -> DictionaryRegistry:
    config = DictionaryConfig(dict_size=2048, **{"auto_train": False, **options})  # type: ignore[arg-type]
    return DictionaryRegistry(config, store=store)


async def test_short_conversations_train_the_dictionary_without_sealing() -> None:
    registry = DictionaryRegistry(DictionaryConfig(dict_size=2048, train_after_samples=60))
    for seed in range(12):  # 72 messages, no conversation long enough to seal a chunk
        conv = Conversation(registry=registry)
        await conv.extend(_short_chat(seed))
        assert conv.chunks == ()
        await conv.aclose()
    await eventually(lambda: registry.current_id != 0, what="a dictionary trained")
    assert registry.stats()["trainings"] == 1
    await registry.aclose()


async def test_sample_every_keeps_one_in_n_offers() -> None:
    registry = _registry(sample_every=3)
    conv = Conversation(registry=registry)
    for seed in range(5):
        await conv.extend(_short_chat(seed))  # 30 offers
    assert registry.stats()["samples"] == 10
    await conv.aclose()


async def test_train_from_given_samples_and_bad_samples() -> None:
    registry = _registry()
    assert await registry.train(["too", "few"]) == 0  # fewer than 10: nothing trained
    with pytest.raises(ArgumentTypeError, match=r"samples\[1\]"):
        await registry.train(["text", 42])  # type: ignore[list-item]
    dict_id = await registry.train(_texts(400, 1))
    assert dict_id == registry.current_id != 0
    assert registry.stats()["samples"] == 0  # the sampled ones were not used nor cleared


async def test_old_dictionary_versions_stay_readable_across_nodes() -> None:
    store = MemoryStore()
    node_a = _registry(store)
    first = await node_a.train(_texts(400, 1))
    conv = Conversation(registry=node_a)
    await conv.extend(_short_chat(1))
    old_blob = await conv.snapshot()
    assert snapshot_dictionary("k", old_blob) == first
    node_b = _registry(store)  # another node, same store, trains other text meanwhile
    second = await node_b.train(_texts(400, 2))
    assert second != first
    assert sorted(k for k in await store.keys("dict/") if k != "dict/current") == sorted(
        [f"dict/{first:08x}", f"dict/{second:08x}"]
    )
    node_c = _registry(store)  # restarted: resumes the current version, loads the old one
    assert await node_c.load_current() == second
    again = await Conversation.restore(old_blob, registry=node_c)
    assert await again.history() == _short_chat(1)
    new_blob = await again.snapshot()
    assert snapshot_dictionary("k", new_blob) == second
    assert await (await Conversation.restore(new_blob, registry=node_a)).history() == _short_chat(1)


async def test_a_snapshot_naming_an_unknown_dictionary_is_refused() -> None:
    trained = _registry()
    await trained.train(_texts(400, 3))
    conv = Conversation(registry=trained)
    await conv.extend(_short_chat(3))
    blob = await conv.snapshot()
    with pytest.raises(UnknownDictionary):
        await Conversation.restore(blob, registry=_registry())
    with pytest.raises(UnknownDictionary):
        await Conversation.restore(blob, registry=_registry(MemoryStore()))


async def test_a_head_naming_an_unknown_dictionary_is_quarantined(store: Store) -> None:
    trained = _registry()  # no store: its dictionary is nowhere to be found later
    await trained.train(_texts(400, 4))
    conv = await Conversation.open(store, "agent/u", registry=trained, config=SMALL)
    await conv.extend(_short_chat(4))
    await conv.aclose()
    before = await store.get_many(await store.keys("agent/u/"))
    with pytest.raises(CorruptSnapshot, match="unknown zstd dictionary"):
        await Conversation.open(
            store,
            "agent/u",
            registry=_registry(store),
            config=ConversationConfig(on_corrupt="fail"),
        )
    assert await store.get_many(await store.keys("agent/u/")) == before  # untouched
    fresh = await Conversation.open(store, "agent/u", registry=_registry(store), config=SMALL)
    assert fresh.quarantined is not None
    assert len(fresh) == 0
    moved = await store.get_many(await store.keys(fresh.quarantined.to))
    assert sorted(moved.values()) == sorted(before.values())  # moved intact, never rewritten
    await fresh.aclose()


async def test_the_previous_snapshot_format_still_reads() -> None:
    registry = _registry()
    conv = await Conversation.restore(V1_SNAPSHOT, registry=registry)
    assert await conv.history() == V1_MESSAGES
    assert conv.system == Message.system("be brief")
    assert snapshot_dictionary("k", await conv.snapshot()) == 0


async def test_records_of_the_previous_format_still_open(store: Store) -> None:
    await store.put_many({k: bytes.fromhex(v) for k, v in V1_RECORDS.items()})
    registry = _registry(store)
    conv = await Conversation.open(store, "old", registry=registry, config=SMALL)
    assert conv.quarantined is None
    assert await conv.history() == V1_MESSAGES
    await conv.append(Message.user("six"))
    await conv.aclose()
    again = await Conversation.open(store, "old", registry=registry, config=SMALL)
    assert await again.history() == [*V1_MESSAGES, Message.user("six")]
    await again.aclose()


def test_dictionary_config_checks_the_new_fields() -> None:
    with pytest.raises(ConfigError, match="sample_every"):
        DictionaryConfig(sample_every=0)
    with pytest.raises(ConfigError, match="snapshot_level"):
        DictionaryConfig(snapshot_level=23)


@pytest.mark.parametrize(
    ("trained", "mode"),
    [(False, "write_through"), (True, "write_through"), (True, "write_behind")],
)
async def test_closing_compacts_a_short_chat_into_its_head(
    store: Store, trained: bool, mode: Literal["write_through", "write_behind"]
) -> None:
    registry = _registry(store)
    if trained:
        await registry.train(_texts(400, 5))
    durability = DurabilityConfig(mode=mode, max_delay=0.01)
    config = ConversationConfig(recent_messages=4, chunk_messages=3, durability=durability)
    conv = await Conversation.open(store, "agent/s", registry=registry, system="hi", config=config)
    await conv.extend(_short_chat(5))
    await conv.aclose()
    assert await store.keys("agent/s/") == ["agent/s/head"]
    head = await store.get("agent/s/head")
    assert head is not None
    assert snapshot_dictionary("h", head) == registry.current_id
    # reopened: append more, seal some of the inline messages, close, reopen: exact
    expected = _short_chat(5)
    for round_ in range(3):
        conv = await Conversation.open(store, "agent/s", registry=registry, config=config)
        assert await conv.history() == expected
        more = _short_chat(100 + round_)[: 2 + round_]
        await conv.extend(more)
        expected += more
        assert await conv.history() == expected
        if round_ == 1:  # a crash: no close, so no compaction; the log holds the rest
            await conv.flush()
            continue
        await conv.aclose()
    conv = await Conversation.open(store, "agent/s", registry=registry, config=config)
    assert await conv.history() == expected
    assert conv.system == Message.system("hi")
    assert len(conv.chunks) >= 2
    await conv.aclose()


async def test_iter_history_matches_history(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry, config=SMALL)
    messages = chat(23)
    await conv.extend(messages)
    assert len(conv.chunks) > 3
    for start in (0, 1, 5, 20, 22, 23, 40, -1, -4, -30):
        assert [m async for m in conv.iter_history(start)] == messages[start:]


async def test_list_conversations(store: Store) -> None:
    registry = _registry(store)
    await registry.train(_texts(400, 6))
    for key in ("agent/acme:1", "agent/acme:2", "agent/other:1", "agent/acme:1/sub"):
        conv = await Conversation.open(store, key, registry=registry, config=SMALL)
        await conv.extend(_short_chat(6))
        await conv.aclose()
    await store.put(f"{QUARANTINE_PREFIX}agent/acme:3/20261207T000000Z-0000/head", b"x")
    assert await list_conversations(store, "agent/acme:") == [
        "agent/acme:1",
        "agent/acme:1/sub",
        "agent/acme:2",
    ]
    assert await list_conversations(store) == [
        "agent/acme:1",
        "agent/acme:1/sub",
        "agent/acme:2",
        "agent/other:1",
    ]
    assert await list_conversations(store, QUARANTINE_PREFIX) == [
        f"{QUARANTINE_PREFIX}agent/acme:3/20261207T000000Z-0000"
    ]


async def test_a_passivated_agent_leaves_one_compacted_record() -> None:
    async with Runtime(fast_config()) as rt:
        await rt.spawn(Chatty, id="p")
        for text in ("first", "second", "third"):
            await rt.ask("p", text)
        assert await rt.passivate("p")
        keys = await rt.store.keys("agent/p/")
        assert keys == ["agent/p/head"]
        reply = await rt.ask("p", "fourth")  # reactivated from the compacted head
        assert reply.text == "echo: fourth"
        texts = [m.content for m in await rt.call("p", "history")]
        assert texts[-8:] == [
            "first",
            "echo: first",
            "second",
            "echo: second",
            "third",
            "echo: third",
            "fourth",
            "echo: fourth",
        ]
