"""Configuration and statistics of a :class:`~agentrt.memory.Conversation`."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Annotated, Literal

from agentrt.bounds import Bounds, check_fields
from agentrt.errors import ConfigError
from agentrt.memory._durability import DurabilityConfig
from agentrt.memory._summary import SummaryConfig
from agentrt.messages import ImagePart, Message, TextPart

__all__ = ["ConversationConfig", "ConversationStats", "message_bytes"]


@dataclass(frozen=True, kw_only=True)
class ConversationConfig:
    """Tiering, summaries and durability of a conversation.

    - ``recent_messages`` (32): messages always kept as objects after a seal.
    - ``recent_tokens`` (None): alternatively keep about this many tokens as objects.
    - ``chunk_messages`` (50): messages per sealed chunk.
    - ``resident_chunks`` (None): with a store, keep at most this many sealed chunks in
      memory once they are summarized and stored; ``None`` keeps all.
    - ``summary``: :class:`~agentrt.memory.SummaryConfig`.
    - ``durability``: :class:`~agentrt.memory.DurabilityConfig` (used with a store).
    - ``on_corrupt`` ("fresh"): what :meth:`Conversation.open` does when a stored record
      does not decode. ``"fresh"``: move every record of the conversation under a
      quarantine key (:mod:`agentrt.memory.quarantine`; logged, and an event from the
      agent layer), then start an empty conversation: the agent stays available and
      nothing is destroyed. ``"fail"``: raise ``CorruptSnapshot`` and touch nothing (an
      agent then fails to start until someone repairs or moves the data).

    Example: ``ConversationConfig(recent_messages=20, resident_chunks=4, on_corrupt="fail")``
    """

    recent_messages: Annotated[int, Bounds(low=0, high=10_000_000)] = 32
    recent_tokens: Annotated[int, Bounds(low=0, high=10**9)] | None = None
    chunk_messages: Annotated[int, Bounds(low=1, high=1_000_000)] = 50
    resident_chunks: Annotated[int, Bounds(low=0, high=10**9)] | None = None
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    durability: DurabilityConfig = field(default_factory=DurabilityConfig)
    on_corrupt: Literal["fresh", "fail"] = "fresh"

    def __post_init__(self) -> None:
        if self.on_corrupt not in ("fresh", "fail"):
            raise ConfigError("on_corrupt", f'must be "fresh" or "fail", got {self.on_corrupt!r}')
        check_fields(self)  # NaN, inf, bools, negatives and the absurd


@dataclass(frozen=True)
class ConversationStats:
    """A conversation's sizes. ``ratio`` = raw / stored bytes of sealed chunks;
    ``summary_coverage`` = share of sealed messages covered by the summary;
    ``memory_bytes`` = estimated bytes this conversation holds in memory, of which
    ``window_bytes`` are the recent window's messages (``message_bytes`` of each),
    ``chunk_memory_bytes`` the resident compressed chunks and the chunk table, and
    ``summary_bytes`` the rolling summary (``Conversation.memory_tiers``)."""

    messages: int
    recent_messages: int
    window_tokens: int
    chunks: int
    resident_chunks: int
    raw_bytes: int
    stored_bytes: int
    ratio: float
    summary_chunks: int
    summary_messages: int
    summary_coverage: float
    summary_calls: int
    summary_failures: int
    summary_last_error: str | None
    memory_bytes: int
    pending_writes: int
    window_bytes: int
    chunk_memory_bytes: int
    summary_bytes: int


def _part_bytes(part: TextPart | ImagePart) -> int:
    return sys.getsizeof(part.text if isinstance(part, TextPart) else part.url)


def message_bytes(message: Message) -> int:
    """Estimated bytes a message held in the window costs (struct, strings, list slot)."""
    size = sys.getsizeof(message) + sys.getsizeof(message.content) + 8 + 32
    if not isinstance(message.content, str):
        size += sum(sys.getsizeof(p) + _part_bytes(p) for p in message.content)
    if message.name is not None:
        size += sys.getsizeof(message.name)
    if message.tool_call_id is not None:
        size += sys.getsizeof(message.tool_call_id)
    for call in message.tool_calls:
        size += sys.getsizeof(call) + sys.getsizeof(call.arguments) + sys.getsizeof(call.id)
    return size + (sys.getsizeof(message.tool_calls) if message.tool_calls else 0)
