"""Conversation memory: recent window, zstd-compressed history with a trained dictionary,
rolling LLM summaries, and durable snapshots (see docs/memory.md).

The runtime owns one :class:`DictionaryRegistry` (and usually one :class:`Store`) and hands
them to every :class:`Conversation`. ``RedisStore`` and ``SQLiteStore`` are handed on
lazily: importing this package loads neither redis nor sqlite3 until one is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentrt._lazy import lazy_exports
from agentrt.memory._codec import ChunkMeta
from agentrt.memory._config import ConversationConfig, ConversationStats
from agentrt.memory._conversation import Conversation
from agentrt.memory._dictionary import DictionaryConfig, DictionaryRegistry
from agentrt.memory._durability import Durability, DurabilityConfig
from agentrt.memory._errors import (
    ConversationClosed,
    ConversationError,
    CorruptSnapshot,
    StaleWrite,
    StoreError,
    UnknownDictionary,
)
from agentrt.memory._layout import list_conversations
from agentrt.memory._quarantine import QUARANTINE_EVENT, Quarantined
from agentrt.memory._summary import Summarizer, Summary, SummaryConfig
from agentrt.memory.stores import Fence, MemoryStore, Store
from agentrt.tokens import TokenEstimator, estimate_tokens

if TYPE_CHECKING:
    from agentrt.memory.stores import RedisStore, SQLiteStore
else:  # the stores package hands them on lazily in turn
    __getattr__, __dir__ = lazy_exports(
        __name__, dict.fromkeys(["RedisStore", "SQLiteStore"], "agentrt.memory.stores")
    )

__all__ = [
    "QUARANTINE_EVENT",
    "ChunkMeta",
    "Conversation",
    "ConversationClosed",
    "ConversationConfig",
    "ConversationError",
    "ConversationStats",
    "CorruptSnapshot",
    "DictionaryConfig",
    "DictionaryRegistry",
    "Durability",
    "DurabilityConfig",
    "Fence",
    "MemoryStore",
    "Quarantined",
    "RedisStore",
    "SQLiteStore",
    "StaleWrite",
    "Store",
    "StoreError",
    "Summarizer",
    "Summary",
    "SummaryConfig",
    "TokenEstimator",
    "UnknownDictionary",
    "estimate_tokens",
    "list_conversations",
]
