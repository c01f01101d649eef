from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentrt.memory import (
    Conversation,
    ConversationConfig,
    CorruptSnapshot,
    DictionaryRegistry,
    Summary,
)
from agentrt.memory._codec import ChunkMeta
from agentrt.memory._snapshot import ConversationState, decode_state, encode_state

from .conftest import chat

SMALL = ConversationConfig(recent_messages=4, chunk_messages=5)


async def _blob(registry: DictionaryRegistry) -> bytes:
    conv = Conversation(registry=registry, config=SMALL, system="be brief")
    await conv.extend(chat(23))
    blob = await conv.snapshot()
    await conv.aclose()
    return blob


async def test_snapshot_restore_round_trip(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry, config=SMALL, system="be brief")
    messages = chat(23)
    await conv.extend(messages)
    again = await Conversation.restore(await conv.snapshot(), registry=registry, config=SMALL)
    assert await again.history() == messages
    assert again.system == conv.system
    assert again.stats().chunks == conv.stats().chunks > 0
    await again.append(messages[0])
    assert len(again) == 24


async def test_every_truncation_raises_corrupt_snapshot_naming_the_key(
    registry: DictionaryRegistry,
) -> None:
    blob = await _blob(registry)
    for cut in range(0, len(blob), max(1, len(blob) // 97)):
        with pytest.raises(CorruptSnapshot) as info:
            await Conversation.restore(blob[:cut], registry=registry, key="agent-7/snap")
        assert info.value.key == "agent-7/snap"
        assert "agent-7/snap" in str(info.value)


@given(st.data())
async def test_any_flipped_byte_is_detected(data: st.DataObject) -> None:
    registry = DictionaryRegistry()
    blob = bytearray(await _blob(registry))
    pos = data.draw(st.integers(0, 10**6)) % len(blob)  # the length varies with the epoch
    blob[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(CorruptSnapshot):
        await Conversation.restore(bytes(blob), registry=registry, key="k")


def test_bad_magic_version_and_type() -> None:
    with pytest.raises(CorruptSnapshot, match="bad magic"):
        decode_state("k", b"NOTASNAP" + bytes(20))
    good = encode_state(ConversationState(1, None, None, [], [], []))
    future = good[:8] + struct.pack(">B", 9) + good[9:]
    with pytest.raises(CorruptSnapshot, match="version 9"):
        decode_state("k", future)
    with pytest.raises(CorruptSnapshot, match="expected bytes"):
        decode_state("k", "text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("chunks", "data", "summary", "reason"),
    [
        ([ChunkMeta(1, 2, 0, 10, 3)], [], None, "starts at 1"),
        ([ChunkMeta(0, 0, 0, 10, 3)], [], None, "starts at 0"),
        ([ChunkMeta(0, 2, 0, 10, 3)], [b"ab"], None, "holds 2 bytes"),
        ([ChunkMeta(0, 2, 0, 10, 3)], [], Summary("s", 2, 2), "outside"),
        ([ChunkMeta(0, 2, 0, 10, 3)], [], Summary("s", 1, 5), "outside"),
    ],
)
def test_inconsistent_tables_are_rejected(chunks, data, summary, reason) -> None:  # type: ignore[no-untyped-def]
    blob = encode_state(ConversationState(1, None, summary, chunks, data, []))
    with pytest.raises(CorruptSnapshot, match=reason):
        decode_state("k", blob)
