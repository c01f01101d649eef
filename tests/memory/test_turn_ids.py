"""``Conversation.append_user``: a user message is stored once per turn id (a cross-node
turn's message id), across a crash (records read back), a seal (the head), a snapshot and
write-behind."""

from __future__ import annotations

import sys

import pytest

from agentrt.errors import InvalidArgument
from agentrt.memory import (
    Conversation,
    ConversationConfig,
    DictionaryRegistry,
    DurabilityConfig,
    MemoryStore,
)
from agentrt.memory._snapshot import decode_log_record, encode_log_record, log_record_turn
from agentrt.messages import Message

SMALL = ConversationConfig(recent_messages=2, chunk_messages=3)


async def test_a_turn_id_appends_its_user_message_once(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry)
    asked = Message.user("hello", name="bob")
    assert await conv.append_user(asked, "m1") is True
    assert await conv.append_user(asked, "m1") is False  # the turn run again
    await conv.append(Message.assistant("hi"))
    assert await conv.append_user(Message.user("again"), "m2") is True
    assert [m.text for m in await conv.history()] == ["hello", "hi", "again"]
    assert conv.memory_bytes() - Conversation(registry=registry).memory_bytes() > sys.getsizeof(
        "m2"
    )  # the id held is counted
    with pytest.raises(InvalidArgument, match="takes a user message"):
        await conv.append_user(Message.assistant("x"), "m3")
    with pytest.raises(InvalidArgument, match="non-empty text"):
        await conv.append_user(Message.user("x"), "")


@pytest.mark.parametrize("mode", ["write_through", "write_behind"])
async def test_the_turn_id_survives_a_crash_a_seal_and_a_snapshot(
    registry: DictionaryRegistry, mode: str
) -> None:
    store = MemoryStore()
    config = ConversationConfig(
        recent_messages=2,
        chunk_messages=3,
        durability=DurabilityConfig(mode=mode),  # type: ignore[arg-type]
    )
    conv = await Conversation.open(store, "a", registry=registry, config=config)
    await conv.append_user(Message.user("q1"), "m1")
    await conv.flush()
    # the node dies here (never closed): the next owner reads the records back
    again = await Conversation.open(store, "a", registry=registry, config=config)
    assert await again.append_user(Message.user("q1"), "m1") is False
    await again.append(Message.assistant("a1"))
    for n in range(2, 6):  # sealed into chunks: the id of the latest is in the head
        await again.append_user(Message.user(f"q{n}"), f"m{n}")
        await again.append(Message.assistant(f"a{n}"))
    await again.append(Message.user("local, no id"))
    await again.flush()
    assert again.chunks  # a seal happened
    third = await Conversation.open(store, "a", registry=registry, config=config)
    assert await third.append_user(Message.user("q5"), "m5") is False
    assert await third.append_user(Message.user("q4"), "m4") is True  # only the latest
    restored = await Conversation.restore(await third.snapshot(), registry=registry)
    assert await restored.append_user(Message.user("q4"), "m4") is False
    texts = [m.text for m in await third.history()]
    assert texts.count("q1") == 1
    assert texts.count("q5") == 1
    for c in (conv, again, third, restored):
        await c.aclose()


def test_a_log_record_with_a_turn_id_reads_as_its_message() -> None:
    asked = Message(role="user", content="q", name="n", timestamp=1.5)
    plain = encode_log_record(7, asked)
    tagged = encode_log_record(7, asked, turn="abc")
    # a reader that knows nothing of turn ids (an older release) gets the same message
    assert decode_log_record("k", tagged, 7) == decode_log_record("k", plain, 7) == asked
    assert (log_record_turn("k", tagged), log_record_turn("k", plain)) == ("abc", None)
