"""Token estimates: pluggable, offline by default; one implementation for every layer
(memory budgets its context windows with it, the LLM pool paces its token buckets).

A :data:`TokenEstimator` is any callable ``(text) -> int``. The default,
:func:`estimate_tokens`, needs no model or vocabulary download: about four characters per
token for ASCII text (the usual figure for English with BPE tokenizers) and three UTF-8
bytes per token otherwise (CJK and other scripts tokenize denser). A message's estimate
adds a fixed per-message overhead and its tool calls; a message that already carries a
count from the provider (``Message.tokens > 0``) is trusted as is.

Plug a real tokenizer when exact counts matter::

    enc = tiktoken.get_encoding("o200k_base")
    Conversation(registry=registry, estimator=lambda text: len(enc.encode(text)))
"""

from __future__ import annotations

from typing import Protocol

from agentrt.messages import Message

__all__ = ["MESSAGE_OVERHEAD_TOKENS", "TokenEstimator", "estimate_tokens", "message_tokens"]

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template spends around each message (role markers, separators)."""


class TokenEstimator(Protocol):
    """Estimates the number of tokens in ``text``; must be cheap and never do I/O."""

    def __call__(self, text: str, /) -> int: ...


def estimate_tokens(text: str) -> int:
    """Offline estimate: ``ceil(chars / 4)`` for ASCII, ``ceil(utf8_bytes / 3)`` otherwise.

    >>> estimate_tokens("Hello, world!")
    4
    >>> estimate_tokens("")
    0
    """
    if text.isascii():
        return (len(text) + 3) // 4
    return (len(text.encode("utf-8")) + 2) // 3


def message_tokens(message: Message, estimator: TokenEstimator = estimate_tokens) -> int:
    """Estimated tokens of ``message`` in a prompt: overhead + content + name + tool calls.

    ``message.tokens`` wins when it is positive (a count reported by the provider).
    """
    if message.tokens > 0:
        return message.tokens
    total = MESSAGE_OVERHEAD_TOKENS + estimator(message.content)
    if message.name:
        total += 1 + estimator(message.name)
    for call in message.tool_calls:
        total += MESSAGE_OVERHEAD_TOKENS + estimator(call.name) + estimator(call.arguments)
    return total
