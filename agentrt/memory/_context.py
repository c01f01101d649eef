"""Assembling the prompt of ``Conversation.context()``: pure functions, no I/O.

:func:`assemble` puts the system prompt first, then the rolling summary as a system
message (when it fits), then the newest messages that fit the rest of the budget, found by
:func:`fit_back`: whole units (a message, or an assistant tool call with all its results,
see :func:`~agentrt.memory._window.fit_suffix`) from the newest back, reaching into older
sealed chunks only when the window is exhausted or starts inside a unit.

>>> from agentrt.messages import Message
>>> from agentrt.tokens import estimate_tokens
>>> msgs = [Message.user("hi"), Message.assistant("hello")]
>>> window = (msgs, [4, 4])
>>> [m.role for m in assemble(Message.system("Be terse."), None, window, 11, estimate_tokens)]
['system', 'assistant']
"""

from __future__ import annotations

from collections.abc import Iterable

from agentrt.memory._summary import Summary
from agentrt.memory._window import fit_suffix, unit_start
from agentrt.messages import Message
from agentrt.tokens import TokenEstimator, message_tokens

__all__ = ["assemble", "fit_back", "summary_note"]


def summary_note(summary: Summary) -> Message:
    """The system message that carries ``summary`` into a prompt, naming what it covers."""
    return Message.system(
        f"Summary of messages 0-{summary.end_message - 1} of this conversation:\n" + summary.text
    )


def assemble(
    system: Message | None,
    summary: Summary | None,
    window: tuple[list[Message], list[int]],
    budget: int,
    estimator: TokenEstimator,
    older: Iterable[list[Message]] = (),
) -> list[Message]:
    """System prompt + summary note + the newest messages that fit ``budget`` tokens.

    ``window``: the unsealed messages and their token estimates; ``older``: see
    :func:`fit_back`. The system prompt is always included, even over budget; the
    summary note only when it fits what is left.
    """
    out: list[Message] = []
    left = budget
    if system is not None:
        out.append(system)
        left -= message_tokens(system, estimator)
    if summary is not None:
        note = summary_note(summary)
        cost = message_tokens(note, estimator)
        if cost <= left:
            out.append(note)
            left -= cost
    messages, tokens = window
    out.extend(fit_back(messages, tokens, max(left, 0), older, estimator))
    return out


def fit_back(
    messages: list[Message],
    tokens: list[int],
    budget: int,
    older: Iterable[list[Message]],
    estimator: TokenEstimator,
) -> list[Message]:
    """The longest whole-unit suffix of ``messages`` (with ``tokens``, their estimates)
    within ``budget``. While the fit reaches the start of ``messages``, or stops at tool
    results whose call is older, and budget is left, the next batch of ``older`` (the
    messages of the previous chunk, newest chunk first) is prepended and the fit retried;
    ``older`` is read lazily and may end early."""
    batches = iter(older)
    while True:
        start, used = fit_suffix(messages, tokens, budget)
        needs_older = start == 0 or (start < len(messages) and unit_start(messages, start) < 0)
        if not (needs_older and used < budget):
            return messages[start:]
        batch = next(batches, None)
        if batch is None:
            return messages[start:]
        messages = batch + messages
        tokens = [message_tokens(m, estimator) for m in batch] + tokens
