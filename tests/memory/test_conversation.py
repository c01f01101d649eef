from __future__ import annotations

import asyncio

import pytest

from agentrt.errors import ConfigError
from agentrt.memory import (
    Conversation,
    ConversationClosed,
    ConversationConfig,
    DictionaryRegistry,
    MemoryStore,
    SummaryConfig,
)
from agentrt.messages import Message, ToolCall
from agentrt.testing import ScriptedSummarizer
from agentrt.tokens import message_tokens

from .conftest import chat

SMALL = ConversationConfig(recent_messages=4, chunk_messages=5)


def _tok(text: str) -> int:
    return len(text.split())  # a deterministic estimator: one token per word


async def test_window_seals_oldest_into_chunks(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry, config=SMALL)
    await conv.extend([Message.user(f"m{i}") for i in range(8)])
    assert conv.stats().chunks == 0
    await conv.append(Message.user("m8"))  # 9 = recent 4 + chunk 5
    stats = conv.stats()
    assert (stats.chunks, stats.recent_messages, stats.messages) == (1, 4, 9)
    assert stats.raw_bytes > 0
    assert stats.stored_bytes > 0
    assert stats.ratio > 0


async def test_seal_boundary_does_not_cut_a_tool_call_from_its_results(
    registry: DictionaryRegistry,
) -> None:
    conv = Conversation(
        registry=registry, config=ConversationConfig(recent_messages=1, chunk_messages=2)
    )
    call = Message.assistant("", tool_calls=(ToolCall("a", "t"), ToolCall("b", "t")))
    turn = [Message.user("q"), call, Message.tool_result("a", "1"), Message.tool_result("b", "2")]
    await conv.extend(turn)
    assert [c.count for c in conv.chunks] == [1, 3]  # [q] then the call with both results
    await conv.extend([Message.user("q2"), Message.assistant("a2"), Message.user("q3")])
    assert [(c.start, c.count) for c in conv.chunks] == [(0, 1), (1, 3), (4, 2)]
    assert await conv.history() == [
        *turn,
        Message.user("q2"),
        Message.assistant("a2"),
        Message.user("q3"),
    ]


async def test_token_budgeted_window(registry: DictionaryRegistry) -> None:
    config = ConversationConfig(recent_messages=1000, recent_tokens=30, chunk_messages=3)
    conv = Conversation(registry=registry, config=config, estimator=_tok)
    await conv.extend(
        [Message.user("one two three four five six") for _ in range(12)]
    )  # 10 tokens each
    assert conv.stats().window_tokens >= 30
    assert conv.stats().chunks >= 2


async def test_context_budget_keeps_tool_calls_with_results(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry, system="sys prompt", estimator=_tok)
    call = Message.assistant("", tool_calls=(ToolCall("c1", "weather", "{}"),))
    history = [
        Message.user("weather in paris"),
        call,
        Message.tool_result("c1", "18 C"),
        Message.assistant("it is 18 C"),
    ]
    await conv.extend(history)
    cost = [message_tokens(m, _tok) for m in history]
    system_cost = message_tokens(Message.system("sys prompt"), _tok)
    full = conv.context(system_cost + sum(cost))
    assert full == [Message.system("sys prompt"), *history]
    # one token short of the whole call unit: only the final answer fits
    tight = conv.context(system_cost + cost[3] + cost[1] + cost[2] - 1)
    assert tight == [Message.system("sys prompt"), history[3]]
    assert conv.context(0) == [Message.system("sys prompt")]  # the system prompt is never dropped
    with pytest.raises(ValueError):
        conv.context(-1)


async def test_context_reaches_into_unsummarized_chunks_and_uses_the_summary(
    registry: DictionaryRegistry,
) -> None:
    summarizer = ScriptedSummarizer()
    summarizer.gate = asyncio.Event()
    config = ConversationConfig(
        recent_messages=2, chunk_messages=4, summary=SummaryConfig(after_chunks=2, max_chunks=2)
    )
    conv = Conversation(registry=registry, config=config, summarizer=summarizer)
    messages = chat(15)
    await conv.extend(messages)
    assert conv.stats().chunks == 3
    assert conv.context(10**6)[-15:] == messages  # sealed, not yet summarized: still there
    summarizer.gate.set()
    await conv.wait_summarized()
    summary = conv.summary
    assert summary is not None
    assert summary.chunks == range(2)
    assert summary.end_message == 8
    context = conv.context(10**6)
    assert context[0].role == "system"
    assert "messages 0-7" in context[0].content
    assert context[1:] == messages[8:]  # the summary replaces what it covers
    await conv.aclose()


async def test_search_and_history(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry, config=SMALL)
    messages = chat(40)
    messages[3] = Message.user("Where is the ÉCOLE in Straße?")
    await conv.extend(messages)
    assert await conv.history(3, 4) == [messages[3]]
    assert await conv.history(-2) == messages[-2:]
    assert await conv.history(10, 5) == []
    hits = await conv.search("école")
    assert hits == [(3, messages[3])]
    assert await conv.search("STRASSE") == [(3, messages[3])]  # casefold
    cache = await conv.search("Cache", limit=3)
    assert [i for i, _ in cache] == sorted(i for i, _ in cache)
    assert len(cache) == 3
    assert all(i > 30 for i, _ in cache)  # the newest matches
    assert await conv.search('"query": "cache 3"') == [
        (
            messages.index(next(m for m in messages if m.tool_calls)),
            next(m for m in messages if m.tool_calls),
        )
    ]
    assert await conv.search("") == []


async def test_summarizer_failure_is_retried_and_loses_nothing(
    registry: DictionaryRegistry,
) -> None:
    summarizer = ScriptedSummarizer(fail_next=3)
    config = ConversationConfig(
        recent_messages=2,
        chunk_messages=3,
        summary=SummaryConfig(after_chunks=2, retry_base=0.001, retry_max=0.002),
    )
    conv = Conversation(registry=registry, config=config, summarizer=summarizer)
    messages = chat(20)
    await conv.extend(messages)
    await conv.wait_summarized()
    stats = conv.stats()
    assert stats.summary_failures == 3
    assert stats.summary_calls >= 4
    assert stats.summary_last_error is None
    assert stats.summary_chunks == stats.chunks
    assert stats.summary_coverage == 1.0
    assert await conv.history() == messages
    first_success = summarizer.calls[3]
    assert first_success[0] == summarizer.calls[0][0]  # the same chunks were offered again
    assert first_success[1] is None
    await conv.aclose()


async def test_summarizer_timeout_counts_as_failure(registry: DictionaryRegistry) -> None:
    async def slow(messages: object, previous: object) -> str:
        await asyncio.sleep(10)
        return "never"

    config = ConversationConfig(
        recent_messages=0,
        chunk_messages=1,
        summary=SummaryConfig(after_chunks=1, timeout=0.01, retry_base=5),
    )
    conv = Conversation(registry=registry, config=config, summarizer=slow)
    await conv.append(Message.user("x"))
    while conv.stats().summary_failures == 0:
        await asyncio.sleep(0.005)
    assert "TimeoutError" in (conv.stats().summary_last_error or "")
    await conv.aclose()  # cancels the task sleeping in its backoff
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_summaries_roll_and_evict_stored_chunks(registry: DictionaryRegistry) -> None:
    summarizer = ScriptedSummarizer()
    config = ConversationConfig(
        recent_messages=2,
        chunk_messages=3,
        resident_chunks=1,
        summary=SummaryConfig(after_chunks=1, max_chunks=1),
    )
    store = MemoryStore()
    conv = await Conversation.open(
        store, "a", registry=registry, config=config, summarizer=summarizer
    )
    messages = chat(30)
    await conv.extend(messages)
    await conv.wait_summarized()
    stats = conv.stats()
    assert stats.resident_chunks == 1 < stats.chunks
    assert summarizer.calls[1][1] == conv.summary.text.split(" | ")[0]  # previous text passed on
    assert conv.summary is not None
    assert conv.summary.text.count("|") == stats.chunks - 1
    assert conv.summary.end_chunk == stats.chunks
    assert await conv.history() == messages  # evicted chunks come back from the store
    assert stats.memory_bytes < Conversation(registry=registry).memory_bytes() + 20_000
    await conv.aclose()


async def test_closed_conversation_and_bad_input(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry)
    with pytest.raises(TypeError, match="Message"):
        await conv.append({"role": "user"})  # type: ignore[arg-type]
    await conv.aclose()
    await conv.aclose()
    with pytest.raises(ConversationClosed):
        await conv.append(Message.user("late"))
    with pytest.raises(ConfigError):
        ConversationConfig(chunk_messages=0)
    with pytest.raises(ConfigError):
        SummaryConfig(after_chunks=3, max_chunks=2)


async def test_memory_bytes_tracks_what_is_held(registry: DictionaryRegistry) -> None:
    conv = Conversation(registry=registry)
    empty = conv.memory_bytes()
    await conv.extend(chat(20))
    grown = conv.memory_bytes()
    assert grown > empty + 20 * 100
    await conv.extend(chat(500, seed=2))
    assert conv.stats().chunks > 5
    assert conv.memory_bytes() < grown + conv.stats().stored_bytes + 60_000
