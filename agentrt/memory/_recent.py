"""The recent window of a conversation: the newest messages, kept as objects.

:class:`RecentWindow` holds the messages not sealed yet, oldest first, with the token
estimate of each and their running total (the bytes they hold are measured when asked,
:meth:`RecentWindow.bytes_held`: a list of sizes and their int objects cost ~50 bytes a
message for a figure only views read). :meth:`RecentWindow.seal_due` says when the
oldest messages should be sealed into a chunk (see
:class:`~agentrt.memory.ConversationConfig`), and :meth:`RecentWindow.take` removes them.
Plain state: changed only by the conversation's appends, which never interleave.
"""

from __future__ import annotations

from agentrt.memory._config import ConversationConfig, message_bytes
from agentrt.memory._window import seal_boundary
from agentrt.messages import Message

__all__ = ["RecentWindow"]


class RecentWindow:
    """The unsealed messages (``messages``), their ``tokens`` and ``token_total``."""

    __slots__ = ("messages", "token_total", "tokens")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.tokens: list[int] = []
        self.token_total = 0

    def __len__(self) -> int:
        return len(self.messages)

    def hold(self, message: Message, tokens: int) -> None:
        """Add ``message`` (newest) with its token estimate."""
        self.messages.append(message)
        self.tokens.append(tokens)
        self.token_total += tokens

    def bytes_held(self) -> int:
        """``message_bytes`` of every message held, measured now (a string's UTF-8 copy
        counts once something has made CPython cache it)."""
        return sum(map(message_bytes, self.messages))

    def seal_due(self, config: ConversationConfig) -> bool:
        """Whether the oldest ``config.chunk_messages`` messages should be sealed: the
        window holds ``recent_messages + chunk_messages`` messages, or (with
        ``recent_tokens``) the messages after them still hold ``recent_tokens`` tokens."""
        size = config.chunk_messages
        if len(self.messages) >= config.recent_messages + size:
            return True
        limit = config.recent_tokens
        return (
            limit is not None
            and len(self.messages) > size
            and self.token_total - sum(self.tokens[:size]) >= limit
        )

    def take(self, size: int) -> list[Message]:
        """Remove and return the oldest ``size`` messages, the boundary moved so that a
        tool call and its results stay together (:func:`~agentrt.memory._window.seal_boundary`)."""
        n = seal_boundary(self.messages, size)
        batch = self.messages[:n]
        self.token_total -= sum(self.tokens[:n])
        del self.messages[:n], self.tokens[:n]
        return batch
