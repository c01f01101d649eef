"""The pure prompt assembly of ``Conversation.context()``: no loop, no store."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from agentrt.memory._context import assemble, fit_back, summary_note
from agentrt.memory._summary import Summary
from agentrt.memory._window import fit_suffix, unit_start
from agentrt.messages import Message, ToolCall
from agentrt.tokens import message_tokens


def _tok(text: str) -> int:
    return len(text.split())  # one token per word


def _cost(message: Message) -> int:
    return message_tokens(message, _tok)


def _window(*messages: Message) -> tuple[list[Message], list[int]]:
    return list(messages), [_cost(m) for m in messages]


class _Older:
    """Older batches, newest first, counting how many were read."""

    def __init__(self, *batches: list[Message]) -> None:
        self.batches = batches
        self.read = 0

    def __iter__(self) -> Iterator[tuple[list[Message], int | None]]:
        for batch in self.batches:
            self.read += 1
            yield batch, None


def test_fit_back_reads_no_older_batch_when_the_budget_ends_inside_the_window() -> None:
    messages, tokens = _window(Message.user("one two"), Message.assistant("three four"))
    older = _Older([Message.user("old")])
    assert fit_back(messages, tokens, tokens[-1], older, _tok) == messages[1:]
    assert older.read == 0


def test_fit_back_prepends_older_batches_while_budget_is_left() -> None:
    messages, tokens = _window(Message.assistant("newest"))
    first, second = [Message.user("middle")], [Message.user("oldest")]
    older = _Older(first, second)
    budget = tokens[0] + _cost(first[0])  # room for one older batch exactly
    assert fit_back(messages, tokens, budget, older, _tok) == first + messages
    assert older.read == 1  # no budget left: the second is never decoded
    older = _Older(first, second)
    assert fit_back(messages, tokens, budget + 1, older, _tok) == first + messages
    assert older.read == 2  # read, but one token is not enough for it


def test_fit_back_keeps_a_tool_call_with_results_that_start_the_window() -> None:
    call = Message.assistant("", tool_calls=(ToolCall("1", "lookup"),))
    messages, tokens = _window(Message.tool_result("1", "ok"), Message.assistant("done"))
    big = sum(tokens) + _cost(call)
    assert fit_back(messages, tokens, big, [([call], None)], _tok) == [call, *messages]
    # without room for the call, its result is not returned alone
    assert fit_back(messages, tokens, big - 1, [([call], None)], _tok) == messages[1:]


def _message(kind: str, i: int) -> Message:
    if kind == "c":
        return Message.assistant("", tool_calls=(ToolCall(str(i), "lookup"),))
    if kind == "t":
        return Message.tool_result(str(i), "result " * (i % 3))
    return Message.user("q " * (i % 4)) if kind == "u" else Message.assistant("a " * (i % 5))


def _total(batch: list[Message]) -> int | None:
    """A batch's total as ``SealedChunks.resident_back`` gives it."""
    first, used = fit_suffix(batch, [_cost(m) for m in batch], sys.maxsize)
    return used if first == 0 else None


def _refit(messages: list[Message], budget: int, older: list[list[Message]]) -> list[Message]:
    """The reference: prepend the next older batch while needed and fit it all again."""
    batches = iter(older)
    while True:
        start, used = fit_suffix(messages, [_cost(m) for m in messages], budget)
        orphan = start < len(messages) and unit_start(messages, start) < 0
        batch = next(batches, None) if (start == 0 or orphan) and used < budget else None
        if batch is None:
            return messages[start:]
        messages = batch + messages


@given(
    st.lists(st.sampled_from("ucta"), max_size=40),
    st.lists(st.integers(1, 12), max_size=6),
    st.integers(0, 200),
    st.booleans(),
)
def test_fit_back_fits_as_refitting_the_whole_prompt_would(
    kinds: list[str], sizes: list[int], budget: int, with_totals: bool
) -> None:
    """Going on into each older batch (or taking a whole one by its total) gives the
    prompt that fitting everything again after each batch gives."""
    everything = [_message(kind, i) for i, kind in enumerate(kinds)]
    chunks, at = [], 0
    for size in sizes:
        if at + size <= len(everything):
            chunks.append(everything[at : at + size])
            at += size
    messages, tokens = _window(*everything[at:])
    newest_first = chunks[::-1]
    older = [(c, _total(c) if with_totals else None) for c in newest_first]
    expected = _refit(list(messages), budget, newest_first)
    assert fit_back(messages, tokens, budget, older, _tok) == expected


def test_assemble_orders_system_summary_messages_and_drops_a_note_too_big() -> None:
    system = Message.system("be terse")
    summary = Summary("earlier they talked about the weather", end_chunk=1, end_message=5)
    note = summary_note(summary)
    assert note.role == "system"
    assert "messages 0-4" in note.text
    window = _window(Message.user("hi there"))
    room = _cost(system) + _cost(note) + window[1][0]
    assert assemble(system, summary, window, room, _tok) == [system, note, window[0][0]]
    # one token short of the note: it is dropped, the message still fits
    short = _cost(system) + _cost(note) - 1
    assert assemble(system, summary, window, short, _tok) == [system, window[0][0]]
    # the system prompt is kept even over budget
    assert assemble(system, None, window, 0, _tok) == [system]
