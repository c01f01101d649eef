"""``Conversation.append`` refuses what could not be stored and read back, and an append
that raises adds nothing (issue 13 §4)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentrt.memory import (
    Conversation,
    ConversationConfig,
    DictionaryConfig,
    DictionaryRegistry,
    MemoryStore,
)
from agentrt.memory._codec import decode_message, encode_message
from agentrt.messages import (
    Message,
    MessageError,
    MessageTypeError,
    MessageValueError,
    ToolCall,
    check_message,
)

SMALL = ConversationConfig(recent_messages=3, chunk_messages=4)


def _registry() -> DictionaryRegistry:
    return DictionaryRegistry(DictionaryConfig(auto_train=False))


def _lenient(text: str) -> int:  # a custom estimator that accepts anything
    return len(text) // 4


@pytest.mark.parametrize(
    ("message", "error", "field"),
    [
        (Message.user("x \ud800"), MessageValueError, "message.content"),
        (Message.user("ok", name="\udfff"), MessageValueError, "message.name"),
        (Message.user(None), MessageTypeError, "message.content"),  # type: ignore[arg-type]
        (Message.user(123), MessageTypeError, "message.content"),  # type: ignore[arg-type]
        (Message.user(b"x"), MessageTypeError, "message.content"),  # type: ignore[arg-type]
        (Message(role="robot"), MessageValueError, "message.role"),  # type: ignore[arg-type]
        (Message(role="user", tokens=-1), MessageValueError, "message.tokens"),
        (Message(role="user", tokens=2**70), MessageValueError, "message.tokens"),
        (Message(role="user", timestamp="now"), MessageTypeError, "message.timestamp"),  # type: ignore[arg-type]
        # found by hypothesis: read back as the float 2**53, not the int given
        (Message(role="user", timestamp=2**53 + 1), MessageValueError, "message.timestamp"),
        (Message(role="user", timestamp=float("nan")), MessageValueError, "message.timestamp"),
        (Message(role="user", timestamp=float("inf")), MessageValueError, "message.timestamp"),
        (Message(role="user", is_error=1), MessageTypeError, "message.is_error"),  # type: ignore[arg-type]
        (
            Message.assistant("", tool_calls=[ToolCall("c", "t")]),  # type: ignore[arg-type]
            MessageTypeError,
            "message.tool_calls",
        ),
        (
            Message.assistant("", tool_calls=(ToolCall("c", "t", '{"a": "\ud83d"}'),)),
            MessageValueError,
            "message.tool_calls[0].arguments",
        ),
        (
            Message.assistant("", tool_calls=(ToolCall("c", None),)),  # type: ignore[arg-type]
            MessageTypeError,
            "message.tool_calls[0].name",
        ),
    ],
)
@pytest.mark.parametrize("estimator", [None, _lenient])
async def test_append_rejects_and_adds_nothing(
    message: Message, error: type[MessageError], field: str, estimator: Any
) -> None:
    options = {} if estimator is None else {"estimator": estimator}
    registry = _registry()
    conv = Conversation(registry=registry, config=SMALL, **options)
    await conv.append(Message.user("before"))
    with pytest.raises(error) as caught:
        await conv.append(message)
    assert caught.value.field == field
    assert field in str(caught.value)
    assert len(conv) == 1
    for i in range(200):  # the sequel: every later append and snapshot works
        assert await conv.append(Message.user(f"after {i}")) == i + 1
    again = await Conversation.restore(await conv.snapshot(), registry=registry)
    assert len(again) == 201
    await again.aclose()
    await conv.aclose()


def test_lone_surrogate_error_is_value_error_not_unicode_error() -> None:
    with pytest.raises(ValueError, match="lone surrogate") as caught:
        check_message(Message.user("x \ud800"))
    assert not isinstance(caught.value, UnicodeError)


async def test_extend_checks_every_message_before_adding_any() -> None:
    store = MemoryStore()
    conv = await Conversation.open(store, "k", registry=_registry(), config=SMALL)
    call = ToolCall("c1", "search", "{}")
    with pytest.raises(MessageValueError, match=r"messages\[1\]\.content"):
        await conv.extend(
            [Message.assistant("", tool_calls=(call,)), Message.tool_result("c1", "\ud800")]
        )
    assert len(conv) == 0
    assert [k for k in store.stored_keys() if "/m/" in k] == []
    await conv.aclose()


async def test_bad_system_prompt_is_refused_at_construction() -> None:
    with pytest.raises(MessageValueError, match=r"system\.content"):
        Conversation(registry=_registry(), system="sys \udc80")


class _Flaky:
    """An estimator that raises on every third call (a custom estimator with a bug)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("estimator failed")
        return len(text)


_text = st.text(st.characters(blacklist_categories=()), max_size=30)  # surrogates included
_maybe_bad = st.one_of(
    st.builds(Message.user, _text),
    st.builds(Message.assistant, _text),
    st.builds(Message.tool_result, _text, _text),
    st.builds(Message.user, st.sampled_from([None, 1, b"x", 2.5])),
    st.builds(
        Message,
        role=st.sampled_from(["user", "assistant", "bogus"]),
        content=_text,
        name=st.none() | _text,
        tokens=st.integers(-5, 2**64),
        timestamp=st.floats(allow_nan=False) | st.integers(-(2**65), 2**65),
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_maybe_bad, max_size=40), st.booleans(), st.booleans())
async def test_append_is_atomic_and_stored_state_reads_back(
    messages: list[Message], durable: bool, flaky: bool
) -> None:
    """Whatever is appended, each append either adds exactly one message or raises and
    adds none; the snapshot and the durable layout always read back to what was added."""
    registry = _registry()
    store = MemoryStore()
    estimator: Any = _Flaky() if flaky else _lenient
    if durable:
        conv = await Conversation.open(
            store, "k", registry=registry, config=SMALL, estimator=estimator
        )
    else:
        conv = Conversation(registry=registry, config=SMALL, estimator=estimator)
    added: list[Message] = []
    for message in messages:
        before = len(conv)
        try:
            await conv.append(message)
        except (MessageError, RuntimeError):
            assert len(conv) == before
        else:
            assert len(conv) == before + 1
            added.append(message)
            assert decode_message(encode_message(message)) == message  # what was let in reads back
    assert await conv.history() == added
    again = await Conversation.restore(await conv.snapshot(), registry=registry)
    assert await again.history() == added
    await again.aclose()
    await conv.aclose()
    if durable:
        reopened = await Conversation.open(store, "k", registry=registry, config=SMALL)
        assert await reopened.history() == added
        await reopened.aclose()


def test_check_message_accepts_what_round_trips() -> None:
    message = Message(role="tool", content="ok é 😀", tool_call_id="c", timestamp=3, tokens=7)
    check_message(message)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(message), type=Message) == message


class _GarbledSummarizer:
    """Returns a lone surrogate first (a model reply decoded badly), then clean text."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, messages: Any, previous: str | None, /) -> str:
        self.calls += 1
        return "summary \ud800" if self.calls == 1 else "a clean summary"


async def test_a_summary_that_cannot_be_stored_is_a_failed_attempt() -> None:
    """It used to be kept in memory, and every later head write and snapshot raised."""
    from agentrt.memory import SummaryConfig

    store = MemoryStore()
    config = ConversationConfig(
        recent_messages=2,
        chunk_messages=3,
        summary=SummaryConfig(after_chunks=1, retry_base=0.0, retry_max=0.0),
    )
    summarizer = _GarbledSummarizer()
    conv = await Conversation.open(
        store, "k", registry=_registry(), config=config, summarizer=summarizer
    )
    for i in range(12):
        await conv.append(Message.user(f"m{i}"))
    await conv.wait_summarized()
    stats = conv.stats()
    assert stats.summary_failures >= 1
    assert conv.summary is not None
    assert conv.summary.text == "a clean summary"
    await conv.snapshot()  # still encodes
    await conv.aclose()
    reopened = await Conversation.open(store, "k", registry=_registry(), config=config)
    assert reopened.summary is not None
    assert reopened.summary.text == "a clean summary"
    await reopened.aclose()
