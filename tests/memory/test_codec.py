from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentrt.memory import DictionaryRegistry, estimate_tokens
from agentrt.memory._codec import (
    decode_message,
    decode_messages,
    encode_message,
    encode_messages,
    open_chunk,
    seal,
)
from agentrt.memory._window import fit_suffix
from agentrt.messages import Message, ToolCall
from agentrt.tokens import message_tokens

from .strategies import messages


@given(messages)
def test_message_round_trip(message: Message) -> None:
    assert decode_message(encode_message(message)) == message


@given(st.lists(messages, max_size=20))
def test_chunk_round_trip(batch: list[Message]) -> None:
    registry = DictionaryRegistry()
    assert decode_messages(encode_messages(batch)) == batch
    if batch:
        meta, data = seal(batch, start=7, registry=registry)
        assert (meta.start, meta.count, meta.stop, meta.stored_size) == (
            7,
            len(batch),
            7 + len(batch),
            len(data),
        )
        assert open_chunk(meta, data, registry) == batch


def test_decoding_garbage_raises_msgspec_error() -> None:
    with pytest.raises(msgspec.MsgspecError):
        decode_message(b"\x93\x01\x02")
    with pytest.raises(msgspec.MsgspecError):
        decode_messages(encode_message(Message.user("not a list")))


def test_token_estimates_are_offline_heuristics() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("日本語のテキスト") == 8  # 24 UTF-8 bytes / 3
    plain = message_tokens(Message.user("abcd" * 10))
    assert plain == 4 + 10
    with_call = message_tokens(Message.assistant("", tool_calls=(ToolCall("1", "abcd", "{}"),)))
    assert with_call == 4 + 0 + 4 + 1 + 1
    assert message_tokens(Message(role="user", content="x" * 400, tokens=7)) == 7


def _call(i: str) -> Message:
    return Message.assistant("", tool_calls=(ToolCall(i, "t"),))


def test_fit_suffix_keeps_tool_call_with_its_results() -> None:
    msgs = [
        Message.user("q"),
        _call("1"),
        Message.tool_result("1", "a"),
        Message.tool_result("1", "b"),
        Message.assistant("done"),
    ]
    tokens = [1, 1, 1, 1, 1]
    assert fit_suffix(msgs, tokens, 1) == (4, 1)
    assert fit_suffix(msgs, tokens, 3) == (4, 1)  # the call unit costs 3: 1 + 3 > 3
    assert fit_suffix(msgs, tokens, 4) == (1, 4)
    assert fit_suffix(msgs, tokens, 100) == (0, 5)
    assert fit_suffix(msgs, tokens, 0) == (5, 0)


def test_fit_suffix_stops_at_orphan_tool_results() -> None:
    msgs = [Message.tool_result("1", "a"), Message.tool_result("1", "b"), Message.user("q")]
    assert fit_suffix(msgs, [1, 1, 1], 100) == (2, 1)


@given(st.lists(st.sampled_from(["u", "c", "t", "a"]), max_size=30), st.integers(0, 40))
def test_fit_suffix_never_returns_a_result_without_its_call(kinds: list[str], budget: int) -> None:
    msgs = []
    for i, kind in enumerate(kinds):
        if kind == "u":
            msgs.append(Message.user("q"))
        elif kind == "c":
            msgs.append(_call(str(i)))
        elif kind == "t":
            msgs.append(Message.tool_result(str(i), "r"))
        else:
            msgs.append(Message.assistant("a"))
    tokens = [2] * len(msgs)
    start, used = fit_suffix(msgs, tokens, budget)
    assert used == 2 * (len(msgs) - start) <= budget
    if start < len(msgs):
        assert msgs[start].role != "tool"
    if start < len(msgs) and start > 0:  # stopped by the budget or an orphan: a whole unit
        assert msgs[start].role in ("user", "assistant", "system")


@pytest.mark.parametrize("size", [1, 10, 31, 32, 100, 255, 256, 1000, 65535, 65536, 70000])
def test_non_ascii_text_encodes_as_msgspec_would_without_a_utf8_copy(size: int) -> None:
    """The bytes are msgspec's own; the string gets no cached UTF-8 form (which would make
    ``sys.getsizeof`` grow by about its UTF-8 length)."""
    import sys

    text = ("é" * size)[:size] if size % 2 else ("日本" * size)[:size]
    text = "".join(list(text))  # a string of its own, never encoded before
    message = Message.user(text)
    before = sys.getsizeof(message.content)
    data = encode_message(message)
    assert sys.getsizeof(message.content) == before
    assert data == msgspec.msgpack.encode(Message.user("".join(list(text))))
    assert decode_message(data) == message


@given(messages)
def test_encode_message_matches_msgspec(message: Message) -> None:
    assert encode_message(message) == msgspec.msgpack.encode(message)
