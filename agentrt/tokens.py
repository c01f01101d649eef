"""Token estimates: pluggable, offline by default; one implementation for every layer
(memory budgets its context windows with it, the LLM pool paces its token buckets).

A :data:`TokenEstimator` is any callable ``(text) -> int``. The default,
:func:`estimate_tokens`, needs no model or vocabulary download: about four characters per
token for ASCII text (the usual figure for English with BPE tokenizers) and three UTF-8
bytes per token otherwise (CJK and other scripts tokenize denser). A message's estimate
adds a fixed per-message overhead and its tool calls; a message that already carries a
count from the provider (``Message.tokens > 0``) is trusted as is.

Content parts: each text part is estimated as text; each image counts a fixed
:data:`IMAGE_TOKENS` by its ``detail``, since its size is not known without fetching it:
``low`` 85 tokens (OpenAI's fixed low-detail cost), ``high`` and ``auto`` 765 (OpenAI's
cost of a 1024x1024 image: 85 + 4 tiles of 170). Anthropic charges about
width x height / 750 (some 1,400 tokens for the same image, at most about 1,600 after
its resizing), so budgets for large images sent to Claude should keep a margin. The URL
itself is never counted: a base64 ``data:`` URL's length says nothing of its tokens.

Plug a real tokenizer when exact counts matter::

    enc = tiktoken.get_encoding("o200k_base")
    Conversation(registry=registry, estimator=lambda text: len(enc.encode(text)))
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from agentrt.messages import Content, ImagePart, Message

__all__ = [
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "TokenEstimator",
    "content_tokens",
    "estimate_tokens",
    "message_tokens",
]

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template spends around each message (role markers, separators)."""

IMAGE_TOKENS: Mapping[str, int] = MappingProxyType({"low": 85, "high": 765, "auto": 765})
"""Estimated tokens of one image part by its ``detail`` (see the module docstring)."""


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


def content_tokens(content: Content, estimator: TokenEstimator = estimate_tokens) -> int:
    """Estimated tokens of a message's content: its text, or the sum of its parts (text
    parts by ``estimator``, images by :data:`IMAGE_TOKENS`).

    >>> from agentrt.messages import ImagePart, TextPart
    >>> content_tokens((TextPart("Hello, world!"), ImagePart("https://x.test/a.png", "low")))
    89
    """
    if isinstance(content, str):
        return estimator(content)
    return sum(
        IMAGE_TOKENS.get(p.detail, 765) if isinstance(p, ImagePart) else estimator(p.text)
        for p in content
    )


def message_tokens(message: Message, estimator: TokenEstimator = estimate_tokens) -> int:
    """Estimated tokens of ``message`` in a prompt: overhead + content + name + tool calls.

    ``message.tokens`` wins when it is positive (a count reported by the provider).
    """
    if message.tokens > 0:
        return message.tokens
    content = message.content
    text = estimator(content) if isinstance(content, str) else content_tokens(content, estimator)
    total = MESSAGE_OVERHEAD_TOKENS + text
    if message.name:
        total += 1 + estimator(message.name)
    for call in message.tool_calls:
        total += MESSAGE_OVERHEAD_TOKENS + estimator(call.name) + estimator(call.arguments)
    return total
