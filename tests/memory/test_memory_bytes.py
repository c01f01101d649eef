# ruff: noqa: RUF001  (real text in other scripts: fullwidth punctuation, Greek letters)
"""``Conversation.memory_bytes()`` against ``tracemalloc`` on mixed-language chat text
(issue 13 §4: it went negative, counting the UTF-8 copy msgpack caches on each string).

Deterministic: the corpus is seeded and tracemalloc counts allocations, not time."""

from __future__ import annotations

import gc
import tracemalloc

import msgspec
import pytest

from agentrt.memory import Conversation, DictionaryConfig, DictionaryRegistry
from agentrt.memory._codec import encode_message
from agentrt.memory._config import message_bytes
from agentrt.messages import ImagePart, Message, TextPart
from loadtest.bench.chat_corpus import conversation, mixed_language

_DECODE = msgspec.msgpack.Decoder(list[Message])


@pytest.fixture
async def trained() -> DictionaryRegistry:
    """A registry with a trained dictionary (it no longer collects samples, which would
    count as the conversation's memory)."""
    registry = DictionaryRegistry(DictionaryConfig(auto_train=False, dict_size=32_768))
    samples = [m for s in range(900, 904) for m in conversation(s, 300) + mixed_language(s, 300)]
    registry.observe([encode_message(m) for m in samples])
    await registry.train()
    assert not registry.wants_samples
    return registry


async def _traced(registry: DictionaryRegistry, packed: bytes) -> tuple[int, int]:
    """(tracemalloc bytes held, memory_bytes()) of a conversation built from ``packed``,
    as an agent builds it from text received off the network."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        messages = _DECODE.decode(packed)
        conv = Conversation(registry=registry, system=messages[0])
        for message in messages[1:]:
            await conv.append(message)
        del messages, message
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimate = conv.memory_bytes()
    await conv.aclose()
    return held, estimate


@pytest.mark.parametrize("n", [20, 200, 2_000])
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_memory_bytes_within_10_percent_of_tracemalloc(
    trained: DictionaryRegistry, n: int, seed: int
) -> None:
    packed = msgspec.msgpack.encode(mixed_language(seed, n))
    held, estimate = await _traced(trained, packed)
    assert estimate > 0
    assert abs(estimate - held) <= 0.10 * held, (estimate, held)


async def test_memory_bytes_never_negative_on_long_non_ascii_conversations(
    trained: DictionaryRegistry,
) -> None:
    conv = Conversation(registry=trained)
    for i in range(3_000):  # 60 seals; each used to subtract more than it added
        await conv.append(Message.user(f"{i}: Привет, мир! 你好，世界！ مرحبا 😀 " * 3))
        assert conv.memory_bytes() > 0
    stats = conv.stats()  # the window's own figure stays the sum of its messages
    window = await conv.history(len(conv) - stats.recent_messages)
    assert stats.window_bytes == sum(message_bytes(m) for m in window) > 0
    await conv.aclose()


async def test_memory_bytes_counts_content_parts(trained: DictionaryRegistry) -> None:
    """Messages with text and image parts (a data URL is held in memory whole)."""
    data = "data:image/png;base64," + "iVBORw0KGgo" * 300
    parts = [
        Message.user(
            (TextPart(f"look at {i}"), ImagePart(data if i % 4 == 0 else f"https://x.test/{i}.png"))
        )
        for i in range(200)
    ]
    packed = msgspec.msgpack.encode([Message.system("s"), *parts])
    held, estimate = await _traced(trained, packed)
    assert abs(estimate - held) <= 0.10 * held, (estimate, held)
