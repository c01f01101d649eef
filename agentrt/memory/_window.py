"""Selecting messages: fitting a token budget without splitting tool calls, choosing
seal boundaries, matching text.

:func:`fit_suffix` is the pure core of ``Conversation.context()``: given messages (oldest
first) and their token estimates, it finds the longest suffix whose tokens fit the budget,
where an assistant message that requested tool calls and the tool results following it
form one unit that is taken whole or not at all. Tool results at the very start whose
call is not in the sequence are never returned alone: the caller may prepend older
messages and fit again.

>>> from agentrt.messages import Message, ToolCall
>>> msgs = [Message.user("hi"), Message.assistant("", tool_calls=(ToolCall("1", "t"),)),
...         Message.tool_result("1", "ok"), Message.assistant("done")]
>>> fit_suffix(msgs, [5, 5, 5, 5], budget=12)   # the call+result unit (10) does not fit
(3, 5)
"""

from __future__ import annotations

from collections.abc import Sequence

from agentrt.messages import Message

__all__ = ["fit_suffix", "match_messages", "seal_boundary", "unit_start"]


def unit_start(messages: Sequence[Message], end: int) -> int:
    """Start of the unit ending at ``end`` (exclusive): a message, or a call + its results.

    Returns ``-1`` when ``messages[end - 1]`` is a tool result whose call is not in the
    sequence (an orphan at its start).
    """
    j = end - 1
    if messages[j].role != "tool":
        return j
    while j > 0 and messages[j - 1].role == "tool":
        j -= 1
    if j > 0 and messages[j - 1].role == "assistant" and messages[j - 1].tool_calls:
        return j - 1
    return -1


def fit_suffix(
    messages: Sequence[Message],
    tokens: Sequence[int],
    budget: int,
    start: int | None = None,
    used: int = 0,
) -> tuple[int, int]:
    """``(start, used)``: ``messages[start:]`` is the longest whole-unit suffix within ``budget``.

    ``used`` is the tokens of that suffix. ``start == len(messages)`` when nothing fits.
    Given ``start`` and ``used`` (a suffix already fitted, e.g. before older messages were
    prepended), the walk goes on from there instead of from the end: the same answer as a
    walk from the end, without fitting that suffix again.
    """
    if start is None:
        start = len(messages)
    while start > 0:
        first = unit_start(messages, start)
        if first < 0:
            break
        cost = sum(tokens[first:start])
        if used + cost > budget:
            break
        used += cost
        start = first
    return start, used


def match_messages(
    messages: Sequence[Message], base: int, needle: str, limit: int
) -> list[tuple[int, Message]]:
    out: list[tuple[int, Message]] = []
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        hay = message.text.casefold()
        if needle in hay or any(needle in c.arguments.casefold() for c in message.tool_calls):
            out.append((base + i, message))
            if len(out) >= limit:
                break
    return out


def seal_boundary(messages: Sequence[Message], size: int) -> int:
    """How many of the oldest ``messages`` to seal: ``size``, moved back so that no tool
    call is cut from its results (or, when the first ``size`` messages are one call with
    its results, forward past them)."""
    n = size
    while n > 0 and (
        (n < len(messages) and messages[n].role == "tool") or messages[n - 1].tool_calls
    ):
        n -= 1
    if n == 0:
        n = size
        while n < len(messages) and messages[n].role == "tool":
            n += 1
    return n
