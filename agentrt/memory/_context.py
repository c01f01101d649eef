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
    older: Iterable[tuple[list[Message], int | None]] = (),
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
    older: Iterable[tuple[list[Message], int | None]],
    estimator: TokenEstimator,
) -> list[Message]:
    """The longest whole-unit suffix of ``messages`` (with ``tokens``, their estimates)
    within ``budget``. While the fit reaches the start of ``messages``, or stops at tool
    results whose call is older, and budget is left, the next batch of ``older`` is
    prepended and the fit goes on into it. ``older``: ``(messages, total)`` of the
    previous chunks, newest first, read lazily (it may end early); ``total`` is the
    batch's tokens when its messages are whole units (else None): a batch that fits whole
    is then taken without estimating its messages again. Each message is fitted once: a
    long conversation costs its length, not its length times its chunks."""
    start, used = fit_suffix(messages, tokens, budget)
    kept = messages[start:]  # fitted
    pending, pending_tokens = messages[:start], tokens[:start]  # not (yet)
    batches = iter(older)
    while (not pending or (kept and unit_start(pending, len(pending)) < 0)) and used < budget:
        entry = next(batches, None)
        if entry is None:
            break
        batch, total = entry
        if not pending and total is not None and used + total <= budget:
            kept = batch + kept
            used += total
            continue
        pending = batch + pending
        pending_tokens = [message_tokens(m, estimator) for m in batch] + pending_tokens
        start, used = fit_suffix(pending, pending_tokens, budget, len(pending), used)
        kept = pending[start:] + kept
        pending, pending_tokens = pending[:start], pending_tokens[:start]
    return kept
